"""Toy COCO-format detection data: coloured shapes on cluttered backgrounds.

COCO itself (arXiv 1405.0312) cannot be downloaded here, so quickstart
configs and CPU end-to-end tests train on this instead. Five classes that
differ by *shape*, not colour (any class takes any colour, filled or
outlined), objects from ~6% to 45% of the short image side, partial
occlusion, distractor clutter (lines, dots, shapeless blobs) and textured,
noisy backgrounds: a small detector reaches a clearly non-zero mAP and a
larger one does better.

Layout written by :func:`make_toy_coco`::

    out_dir/train/000000.png ...          RGB images (PNG)
    out_dir/val/000000.png ...
    out_dir/annotations/instances_train.json
    out_dir/annotations/instances_val.json
    out_dir/toy_coco_manifest.json        written last: marks a complete set

Boxes are the tight boxes of each object's *visible* pixels, COCO ``xywh``
with ``w = x_max - x_min + 1``; ``area`` is the visible pixel count.

The file-writing helpers here (atomic writes, the manifest, the folder lock)
are shared with :mod:`cankd.datasets.toy_cityscapes`.
"""
import contextlib
import json
import os
import os.path as osp
import re
import tempfile
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['make_toy_coco', 'TOY_COCO_CLASSES', 'TOY_COCO_PALETTE', 'TOY_COCO_METAINFO']

TOY_COCO_CLASSES = ('rectangle', 'ellipse', 'triangle', 'cross', 'star')
TOY_COCO_PALETTE = [(220, 20, 60), (0, 0, 142), (0, 170, 30), (250, 170, 30), (106, 0, 228)]
TOY_COCO_METAINFO = dict(classes=TOY_COCO_CLASSES, palette=TOY_COCO_PALETTE)

# Bump when the pictures change, so datasets written by older code regenerate.
_VERSION = 1
_MANIFEST = 'toy_coco_manifest.json'
_SPLITS = ('train', 'val')
_SPLIT_IDS = {'train': 0, 'val': 1}
_MAX_OBJECTS = 7
_MIN_VISIBLE = 0.55  # an occluded object keeps at least this share of its pixels


# --------------------------------------------------------------------------- #
# Shared helpers (also used by toy_cityscapes)
# --------------------------------------------------------------------------- #
def _check_params(num_train: int, num_val: int, img_size: Sequence[int], seed: int,
                  min_side: int) -> Tuple[int, int]:
    """Validate the public arguments; return ``img_size`` as ``(W, H)`` ints."""
    for name, value in (('num_train', num_train), ('num_val', num_val)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f'{name} must be a positive int, got {value!r}')
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative int, got {seed!r}')
    if (not isinstance(img_size, (tuple, list)) or len(img_size) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                       for v in img_size)
            or min(img_size) < min_side):
        raise ValueError(
            f'img_size must be (W, H), two ints >= {min_side}, got {img_size!r}')
    return int(img_size[0]), int(img_size[1])


def _scene_rng(seed: int, split: str, index: int, salt: int) -> np.random.Generator:
    """One independent stream per picture: picture ``i`` of a split is the
    same whatever ``num_train``/``num_val`` are, and pictures can be rendered
    (and re-rendered by tests) in any order."""
    return np.random.default_rng([salt, seed, _SPLIT_IDS[split], index])


def _atomic_write(path: str, data: bytes) -> None:
    """Write to a hidden temporary file in the same folder, then rename over
    ``path``: a reader never sees half a file, and an interrupted run leaves
    only ``.toy-*.tmp`` files (which no loader globs)."""
    folder = osp.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.toy-', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def _encode_png(array: np.ndarray) -> bytes:
    """PNG bytes of an RGB ``(H, W, 3)`` or single-channel ``(H, W)`` uint8 array."""
    if array.ndim == 3:
        array = np.ascontiguousarray(array[..., ::-1])  # cv2 writes BGR
    ok, buf = cv2.imencode('.png', array, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError('cv2.imencode failed to encode a PNG')
    return buf.tobytes()


def _dumps(obj) -> bytes:
    return json.dumps(obj, separators=(',', ':')).encode()


@contextlib.contextmanager
def _folder_lock(out_dir: str, name: str) -> Iterator[None]:
    """Serialise generators on one folder (e.g. every rank of a distributed
    run calling ``make_toy_*``): the second one then finds a complete set."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock, writes are still atomic
        yield
        return
    with open(osp.join(out_dir, f'.{name}.lock'), 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _read_manifest(path: str) -> Optional[dict]:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _is_complete(manifest_path: str, params: dict, files: Sequence[str]) -> bool:
    """A set is reusable when its manifest (written last) records the same
    parameters and every file it should have is there."""
    manifest = _read_manifest(manifest_path)
    if manifest is None or manifest.get('params') != params:
        return False
    return all(osp.isfile(p) for p in files)


def _remove_stale(folder: str, pattern: 're.Pattern', keep: set, recursive: bool) -> None:
    """Delete our own leftovers in ``folder``: temporary files and generated
    files a smaller / different earlier set left behind -- a
    directory-scanning loader (mmseg) would otherwise pick them up. Files
    that do not match ``pattern`` are never touched."""
    if not osp.isdir(folder):
        return
    for root, dirs, names in os.walk(folder):
        if not recursive:
            dirs.clear()
        for name in names:
            path = osp.join(root, name)
            if (name.startswith('.toy-') and name.endswith('.tmp')) or (
                    pattern.fullmatch(name) and path not in keep):
                os.remove(path)


class _Progress:
    """mmengine's ProgressBar, redrawn ~50 times rather than once per image."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.step, self.pending, self.bar = max(1, total // 50), 0, None
        if enabled:
            from mmengine.utils import ProgressBar
            self.bar = ProgressBar(total)

    def update(self) -> None:
        self.pending += 1
        if self.bar is not None and self.pending == self.step:
            self.bar.update(self.pending)
            self.pending = 0

    def close(self) -> None:
        if self.bar is not None:
            if self.pending:
                self.bar.update(self.pending)
            print()


# --------------------------------------------------------------------------- #
# Drawing
# --------------------------------------------------------------------------- #
class ShapeSpec:
    """One drawn object: class index, integer polygon ``(N, 2)`` (x, y),
    fill or outline thickness, RGB colour. Rendering a spec alone gives the
    object's full (unoccluded) mask, see :func:`shape_mask`."""

    __slots__ = ('label', 'points', 'thickness', 'color')

    def __init__(self, label: int, points: np.ndarray, thickness: int,
                 color: Tuple[int, int, int]) -> None:
        self.label = label
        self.points = points
        self.thickness = thickness  # 0: filled
        self.color = color


def shape_mask(spec: ShapeSpec, width: int, height: int) -> np.ndarray:
    """Full mask ``(H, W)`` bool of one object, as drawn on the image."""
    canvas = np.zeros((height, width), np.uint8)
    if spec.thickness == 0:
        cv2.fillPoly(canvas, [spec.points], 1, lineType=cv2.LINE_8)
    else:
        cv2.polylines(canvas, [spec.points], True, 1, spec.thickness, lineType=cv2.LINE_8)
    return canvas.astype(bool)


def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def _outline(label: int, size: float, rng: np.random.Generator) -> np.ndarray:
    """Float polygon of class ``label`` centred at 0 with diameter ``size``."""
    r = size / 2
    name = TOY_COCO_CLASSES[label]
    if name == 'rectangle':
        hw, hh = r, r * rng.uniform(0.45, 1.0)
        pts = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]])
    elif name == 'ellipse':
        t = np.linspace(0, 2 * np.pi, 36, endpoint=False)
        pts = np.stack([r * np.cos(t), r * rng.uniform(0.45, 1.0) * np.sin(t)], 1)
    elif name == 'triangle':
        t = np.array([0, 2, 4]) * np.pi / 3 + rng.uniform(-0.35, 0.35, 3)
        rad = r * rng.uniform(0.85, 1.0, 3)
        pts = np.stack([rad * np.cos(t), rad * np.sin(t)], 1)
    elif name == 'cross':
        a = r * rng.uniform(0.22, 0.38)  # half arm width
        pts = np.array([[-a, -r], [a, -r], [a, -a], [r, -a], [r, a], [a, a], [a, r],
                        [-a, r], [-a, a], [-r, a], [-r, -a], [-a, -a]])
    else:  # star
        t = np.arange(10) * np.pi / 5
        rad = np.where(np.arange(10) % 2 == 0, r, r * rng.uniform(0.38, 0.5))
        pts = np.stack([rad * np.cos(t), rad * np.sin(t)], 1)
    return _rotate(pts, rng.uniform(0, 2 * np.pi))


def _blob(size: float, rng: np.random.Generator) -> np.ndarray:
    """A shapeless distractor: a smooth irregular closed curve."""
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    rad = np.ones_like(t)
    for k in (2, 3, 4, 5):
        rad += rng.uniform(-0.25, 0.25) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
    rad *= size / 2 / rad.max()
    return np.stack([rad * np.cos(t), rad * np.sin(t)], 1)


def _random_color(rng: np.random.Generator) -> np.ndarray:
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(60, 255), rng.uniform(70, 255)]]],
                   np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Float RGB ``(H, W, 3)``: a gradient, stripes or blotches, plus
    low-frequency texture."""
    c1, c2 = _random_color(rng), _random_color(rng)
    kind = rng.integers(3)
    theta = rng.uniform(0, 2 * np.pi)
    proj = (np.arange(w, dtype=np.float32)[None] * np.float32(np.cos(theta))
            + np.arange(h, dtype=np.float32)[:, None] * np.float32(np.sin(theta))) / max(w, h)
    if kind == 0:  # linear gradient
        t = (proj - proj.min()) / max(float(np.ptp(proj)), 1e-6)
    elif kind == 1:  # soft stripes
        freq, phase = np.float32(2 * np.pi * rng.uniform(2, 8)), np.float32(rng.uniform(0, 6.3))
        t = (0.5 + 0.5 * np.sin(freq * proj + phase)) * np.float32(rng.uniform(0.3, 0.8))
    else:  # blotches
        grid = rng.random((int(rng.integers(3, 8)), int(rng.integers(3, 8))), dtype=np.float32)
        t = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    # Per-channel planes: numpy broadcasting over a trailing axis of 3 is slow.
    img = cv2.merge([t * (c2[c] - c1[c]) + c1[c] for c in range(3)])
    fine = rng.standard_normal((max(h // 8, 2), max(w // 8, 2), 3), dtype=np.float32)
    img += np.float32(rng.uniform(5, 20)) * cv2.resize(fine, (w, h),
                                                       interpolation=cv2.INTER_LINEAR)
    return img


def _clutter(img: np.ndarray, rng: np.random.Generator, sizes: Tuple[float, float]) -> None:
    """Draw distractors (not annotated) in place: thin lines, dots, blobs."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(0, 6))):
        n = int(rng.integers(2, 5))
        pts = np.stack([rng.uniform(0, w, n), rng.uniform(0, h, n)], 1).astype(np.int32)
        cv2.polylines(img, [pts], False, _random_color(rng).tolist(), 1, cv2.LINE_8)
    for _ in range(int(rng.integers(0, 12))):
        center = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(img, center, int(rng.integers(1, 3)), _random_color(rng).tolist(), -1)
    for _ in range(int(rng.integers(0, 3))):
        size = rng.uniform(sizes[0], sizes[1] * 0.6)
        pts = _blob(size, rng) + [rng.uniform(0, w), rng.uniform(0, h)]
        cv2.fillPoly(img, [np.round(pts).astype(np.int32)], _random_color(rng).tolist())


def render_coco_scene(rng: np.random.Generator, width: int,
                      height: int) -> Tuple[np.ndarray, List[ShapeSpec]]:
    """Render one picture.

    Returns:
        tuple: the RGB uint8 image ``(H, W, 3)`` and the objects in drawing
        order (later ones occlude earlier ones).
    """
    short = min(width, height)
    smin, smax = max(8.0, 0.06 * short), 0.45 * short
    img = _background(rng, width, height)
    _clutter(img, rng, (smin, smax))

    specs: List[ShapeSpec] = []
    visible: List[np.ndarray] = []  # visible masks of the objects so far
    full_area: List[int] = []
    for _ in range(int(rng.integers(1, _MAX_OBJECTS + 1))):
        for _try in range(20):
            label = int(rng.integers(len(TOY_COCO_CLASSES)))
            size = float(np.exp(rng.uniform(np.log(smin), np.log(smax))))
            filled = rng.random() < 0.65
            thick = 0 if filled else max(2, int(round(size * rng.uniform(0.08, 0.15))))
            pts = _outline(label, size, rng)
            pad = thick // 2 + 1
            lo, hi = pts.min(0) - pad, pts.max(0) + pad
            if np.any(hi - lo > [width - 1, height - 1]):
                continue
            offset = rng.uniform(-lo, [width - 1, height - 1] - hi)
            spec = ShapeSpec(label, np.round(pts + offset).astype(np.int32), thick, (0, 0, 0))
            mask = shape_mask(spec, width, height)
            if mask.sum() < 12 or any(
                    (v & ~mask).sum() < _MIN_VISIBLE * a for v, a in zip(visible, full_area)):
                continue
            break
        else:
            continue  # no room for another object
        # Pick a colour that stands out from what lies under the object.
        under = np.array(cv2.mean(img, mask.view(np.uint8))[:3], np.float32)
        best, best_d = None, -1.0
        for _c in range(8):
            color = _random_color(rng)
            d = float(np.abs(color - under).sum())
            if d > best_d:
                best, best_d = color, d
            if d > 120:
                break
        spec.color = tuple(int(c) for c in best)
        # Slight shading across the object, so fills are not flat.
        shade = rng.uniform(-12, 12) * np.linspace(-1, 1, width, dtype=np.float32)
        rows, cols = np.nonzero(mask)
        for c in range(3):
            img[rows, cols, c] = best[c] + shade[cols]
        visible = [v & ~mask for v in visible] + [mask]
        full_area.append(int(mask.sum()))
        specs.append(spec)
    img += np.float32(rng.uniform(2, 8)) * rng.standard_normal(img.shape, dtype=np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), specs


def visible_masks(specs: Sequence[ShapeSpec], width: int, height: int) -> List[np.ndarray]:
    """Visible mask of each object: its own pixels minus those of later ones."""
    out, covered = [], np.zeros((height, width), bool)
    for spec in reversed(specs):
        mask = shape_mask(spec, width, height)
        out.append(mask & ~covered)
        covered |= mask
    return out[::-1]


def _coco_annotations(specs: Sequence[ShapeSpec], width: int, height: int, image_id: int,
                      first_ann_id: int) -> List[dict]:
    anns = []
    for spec, mask in zip(specs, visible_masks(specs, width, height)):
        ys, xs = np.nonzero(mask)
        x0, y0 = int(xs.min()), int(ys.min())
        anns.append(dict(
            id=first_ann_id + len(anns), image_id=image_id, category_id=spec.label + 1,
            bbox=[x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1],
            area=int(mask.sum()), iscrowd=0))
    return anns


# --------------------------------------------------------------------------- #
# Public entry point
# --------------------------------------------------------------------------- #
_IMG_RE = re.compile(r'\d{6}\.png')


def _coco_paths(out_dir: str) -> Dict[str, str]:
    return dict(
        data_root=out_dir,
        train_img_dir=osp.join(out_dir, 'train'),
        val_img_dir=osp.join(out_dir, 'val'),
        train_ann_file=osp.join(out_dir, 'annotations', 'instances_train.json'),
        val_ann_file=osp.join(out_dir, 'annotations', 'instances_val.json'),
        manifest=osp.join(out_dir, _MANIFEST))


def _coco_files(paths: Dict[str, str], counts: Dict[str, int]) -> List[str]:
    files = [paths['train_ann_file'], paths['val_ann_file']]
    for split in _SPLITS:
        files += [osp.join(paths[f'{split}_img_dir'], f'{i:06d}.png')
                  for i in range(counts[split])]
    return files


def make_toy_coco(out_dir: str,
                  num_train: int = 400,
                  num_val: int = 100,
                  img_size: Sequence[int] = (160, 160),
                  seed: int = 0,
                  progress: bool = False) -> Dict[str, str]:
    """Generate (or reuse) a toy COCO-format detection dataset.

    Args:
        out_dir: target folder (created if missing).
        num_train / num_val: number of images per split.
        img_size: ``(W, H)`` of every image, each side >= 32.
        seed: the whole dataset is a pure function of the arguments.
        progress: show a progress bar while generating.

    Returns:
        dict of paths: ``data_root``, ``train_img_dir``, ``val_img_dir``,
        ``train_ann_file``, ``val_ann_file``, ``manifest``. If ``out_dir``
        already holds a complete set made with the same arguments it is
        reused untouched; an incomplete or different one is regenerated.
    """
    width, height = _check_params(num_train, num_val, img_size, seed, min_side=32)
    out_dir = osp.abspath(out_dir)
    paths = _coco_paths(out_dir)
    counts = dict(train=int(num_train), val=int(num_val))
    params = dict(generator='toy_coco', version=_VERSION, num_train=counts['train'],
                  num_val=counts['val'], img_size=[width, height], seed=int(seed))
    files = _coco_files(paths, counts)
    os.makedirs(out_dir, exist_ok=True)
    with _folder_lock(out_dir, 'toy_coco'):
        if _is_complete(paths['manifest'], params, files):
            return paths
        if osp.exists(paths['manifest']):
            os.remove(paths['manifest'])
        for d in ('train_img_dir', 'val_img_dir'):
            os.makedirs(paths[d], exist_ok=True)
            _remove_stale(paths[d], _IMG_RE, set(files), recursive=False)
        os.makedirs(osp.dirname(paths['train_ann_file']), exist_ok=True)

        bar = _Progress(sum(counts.values()), progress)
        instances = {}
        for split in _SPLITS:
            images, anns = [], []
            for i in range(counts[split]):
                img, specs = render_coco_scene(
                    _scene_rng(seed, split, i, salt=0), width, height)
                name = f'{i:06d}.png'
                _atomic_write(osp.join(paths[f'{split}_img_dir'], name), _encode_png(img))
                images.append(dict(id=i + 1, file_name=name, width=width, height=height))
                anns += _coco_annotations(specs, width, height, i + 1, len(anns) + 1)
                bar.update()
            coco = dict(
                info=dict(description=f'cankd toy COCO ({split})', version=str(_VERSION)),
                licenses=[], images=images, annotations=anns,
                categories=[dict(id=k + 1, name=n, supercategory='shape')
                            for k, n in enumerate(TOY_COCO_CLASSES)])
            _atomic_write(paths[f'{split}_ann_file'], _dumps(coco))
            instances[split] = len(anns)
        bar.close()
        manifest = dict(params=params, num_images=counts, num_instances=instances,
                        classes=list(TOY_COCO_CLASSES))
        _atomic_write(paths['manifest'], _dumps(manifest))
    return paths
