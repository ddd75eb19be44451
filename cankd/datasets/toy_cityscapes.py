"""Toy street scenes in the Cityscapes layout, for semantic segmentation.

Cityscapes (arXiv 1604.01685) cannot be downloaded here, so quickstart
configs and CPU end-to-end tests use these: a perspective road with lane
marks, sidewalks, textured buildings with windows, trees, thin poles, cars
and pedestrians scaled by depth, under a blue or overcast sky, with lighting
jitter and sensor noise. Layouts, colours and counts vary per picture, so a
small segmentor learns it well but not perfectly (poles and distant people
are a few pixels wide).

Layout written by :func:`make_toy_cityscapes`::

    out_dir/leftImg8bit/{train,val}/<city>/<city>_<i:06d>_000019_leftImg8bit.png
    out_dir/gtFine/{train,val}/<city>/<city>_<i:06d>_000019_gtFine_labelTrainIds.png
    out_dir/toy_cityscapes_manifest.json   written last: marks a complete set

Labels are uint8 trainIds ``0..7`` (:data:`TOY_CITYSCAPES_CLASSES`); 255
(ignore) marks the ego-vehicle bonnet that some pictures show at the
bottom, as in Cityscapes.
"""
import os
import os.path as osp
import re
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
from mmengine.registry import DefaultScope
from mmseg.datasets import BaseSegDataset

from cankd.registry import DATASETS
from .toy_coco import (_atomic_write, _check_params, _dumps, _encode_png, _folder_lock,
                       _is_complete, _Progress, _remove_stale, _scene_rng)

__all__ = ['make_toy_cityscapes', 'ToyCityscapesDataset', 'TOY_CITYSCAPES_CLASSES',
           'TOY_CITYSCAPES_PALETTE', 'TOY_CITYSCAPES_METAINFO']

TOY_CITYSCAPES_CLASSES = ('road', 'sidewalk', 'building', 'pole', 'vegetation', 'sky', 'person',
                          'car')
# Cityscapes' own colours for these classes (RGB).
TOY_CITYSCAPES_PALETTE = [[128, 64, 128], [244, 35, 232], [70, 70, 70], [153, 153, 153],
                          [107, 142, 35], [70, 130, 180], [220, 20, 60], [0, 0, 142]]
TOY_CITYSCAPES_METAINFO = dict(classes=TOY_CITYSCAPES_CLASSES, palette=TOY_CITYSCAPES_PALETTE)

ROAD, SIDEWALK, BUILDING, POLE, VEGETATION, SKY, PERSON, CAR = range(8)
IGNORE = 255

_VERSION = 1
_MANIFEST = 'toy_cityscapes_manifest.json'
_CITIES = dict(train=('toyburg', 'pixelstadt', 'mockheim'), val=('synthville', ))
# Only files named after our made-up cities are ever deleted as stale: never
# real Cityscapes files, should ``out_dir`` point at a real copy by mistake.
_CITY_ALT = '|'.join(c for cities in _CITIES.values() for c in cities)
_FILE_RE = re.compile(rf'({_CITY_ALT})_\d{{6}}_000019_(leftImg8bit|gtFine_labelTrainIds)\.png')


@DATASETS.register_module()
class ToyCityscapesDataset(BaseSegDataset):
    """Toy street scenes (see :func:`make_toy_cityscapes`) in the Cityscapes
    layout: ``data_prefix=dict(img_path='leftImg8bit/train',
    seg_map_path='gtFine/train')`` under ``data_root``.

    Pipeline transforms given by name resolve in the ``mmseg`` scope, whatever
    the config's default scope: in the ``cankd`` scope ``LoadAnnotations``
    would otherwise silently be mmcv's generic one and ``PackSegInputs`` not
    be found. Names with an explicit scope (``cankd.MyTransform``) still work.
    """

    METAINFO = TOY_CITYSCAPES_METAINFO

    def __init__(self,
                 img_suffix: str = '_leftImg8bit.png',
                 seg_map_suffix: str = '_gtFine_labelTrainIds.png',
                 **kwargs) -> None:
        with DefaultScope.overwrite_default_scope('mmseg'):
            super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)


# --------------------------------------------------------------------------- #
# Drawing
# --------------------------------------------------------------------------- #
class _Canvas:
    """Image (float RGB) and label map painted together, so every pixel's
    label is the class of whatever was painted there last."""

    def __init__(self, rng: np.random.Generator, w: int, h: int) -> None:
        self.rng, self.w, self.h = rng, w, h
        self.img = np.zeros((h, w, 3), np.float32)
        self.lbl = np.full((h, w), SKY, np.uint8)

    def mask(self) -> np.ndarray:
        return np.zeros((self.h, self.w), np.uint8)

    def paint(self, mask: np.ndarray, color, label: int, noise: float = 0.0) -> None:
        """Fill ``mask`` (uint8/bool ``(H, W)``) with ``color`` plus per-pixel
        luminance noise of std ``noise``."""
        mask = mask.view(np.uint8) if mask.dtype == bool else mask
        x, y, w, h = cv2.boundingRect(mask)  # work in the object's window only
        if w == 0:
            return
        sub = mask[y:y + h, x:x + w].astype(bool)
        jitter = self.rng.standard_normal(int(sub.sum()), dtype=np.float32) * np.float32(noise)
        window = self.img[y:y + h, x:x + w]
        for c in range(3):
            window[..., c][sub] = np.float32(color[c]) + jitter
        self.lbl[y:y + h, x:x + w][sub] = label


def _jitter(rng: np.random.Generator, rgb, amount: float) -> np.ndarray:
    return np.clip(np.asarray(rgb, np.float32) + rng.uniform(-amount, amount, 3), 0, 255)


def _sky(cv: _Canvas, horizon: int) -> None:
    rng = cv.rng
    if rng.random() < 0.6:  # blue sky
        top, bottom = _jitter(rng, (60, 110, 190), 25), _jitter(rng, (160, 190, 225), 20)
    else:  # overcast
        g = rng.uniform(150, 215)
        top, bottom = _jitter(rng, (g, g, g + 8), 10), _jitter(rng, (g + 20, g + 20, g + 25), 10)
    t = np.clip(np.arange(cv.h, dtype=np.float32) / max(horizon, 1), 0, 1)[:, None]
    cv.img[:] = cv2.merge([np.repeat(top[c] + t * (bottom[c] - top[c]), cv.w, 1)
                           for c in range(3)])
    for _ in range(int(rng.integers(0, 4))):  # soft clouds, still sky
        m = cv.mask()
        cx, cy = rng.uniform(0, cv.w), rng.uniform(0, horizon * 0.6)
        axes = (int(rng.uniform(0.05, 0.2) * cv.w), int(rng.uniform(0.02, 0.06) * cv.h) + 1)
        cv2.ellipse(m, (int(cx), int(cy)), axes, 0, 0, 360, 1, -1)
        cv.paint(m, _jitter(rng, (235, 235, 240), 15), SKY, noise=4)


def _buildings(cv: _Canvas, horizon: int) -> None:
    rng, w, h = cv.rng, cv.w, cv.h
    x = -rng.uniform(0, 0.1) * w
    facades = ((120, 120, 125), (170, 155, 130), (150, 80, 60), (200, 195, 185), (90, 95, 110))
    while x < w:
        bw = rng.uniform(0.1, 0.35) * w
        if rng.random() < 0.15:  # a gap shows the sky behind
            x += bw * 0.5
            continue
        top = int(rng.uniform(-0.1, 0.8) * horizon)
        x0, x1, bottom = int(x), int(x + bw), horizon + int(0.03 * h)
        m = cv.mask()
        cv2.rectangle(m, (x0, top), (x1, bottom), 1, -1)
        base = _jitter(rng, facades[rng.integers(len(facades))], 20)
        cv.paint(m, base, BUILDING, noise=rng.uniform(3, 10))
        if rng.random() < 0.8:  # windows: part of the building class
            win = cv.mask()
            ww, wh = rng.uniform(0.02, 0.04) * w, rng.uniform(0.03, 0.06) * h
            sx, sy = ww * rng.uniform(1.6, 2.5), wh * rng.uniform(1.6, 2.5)
            for wy in np.arange(top + sy * 0.5, bottom - wh - 2, sy):
                for wx in np.arange(x0 + sx * 0.4, x1 - ww, sx):
                    cv2.rectangle(win, (int(wx), int(wy)), (int(wx + ww), int(wy + wh)), 1, -1)
            tone = rng.uniform(0.35, 0.7) if rng.random() < 0.7 else rng.uniform(1.2, 1.5)
            cv.paint(win, np.clip(base * tone, 0, 255), BUILDING, noise=4)
        x += bw


def _trees(cv: _Canvas, horizon: int) -> None:
    rng, w, h = cv.rng, cv.w, cv.h
    for _ in range(int(rng.integers(0, 5))):
        m = cv.mask()
        cx, cy = rng.uniform(0, w), rng.uniform(0.2, 1.0) * horizon
        r = rng.uniform(0.06, 0.16) * h
        for _k in range(int(rng.integers(3, 7))):  # canopy of overlapping discs
            off = rng.normal(0, r * 0.5, 2)
            cv2.circle(m, (int(cx + off[0]), int(cy + off[1])), int(r * rng.uniform(0.5, 1)),
                       1, -1)
        trunk_w = max(1, int(r * 0.2))
        cv2.rectangle(m, (int(cx - trunk_w / 2), int(cy)), (int(cx + trunk_w / 2),
                                                           horizon + int(0.02 * h)), 1, -1)
        green = (60, 110, 40) if rng.random() < 0.8 else (130, 120, 50)
        cv.paint(m, _jitter(rng, green, 25), VEGETATION, noise=rng.uniform(12, 25))
    if rng.random() < 0.4:  # a hedge along the horizon
        m = cv.mask()
        xs = np.linspace(0, w, 12)
        tops = horizon - rng.uniform(0.02, 0.1, 12) * h
        pts = np.concatenate([np.stack([xs, tops], 1), [[w, horizon + 2], [0, horizon + 2]]])
        cv2.fillPoly(m, [pts.astype(np.int32)], 1)
        cv.paint(m, _jitter(rng, (70, 100, 45), 20), VEGETATION, noise=18)


def _ground(cv: _Canvas, horizon: int) -> Tuple[float, float, float, float]:
    """Sidewalk below the horizon, then the road as a perspective trapezoid.

    Returns:
        the road edges as lines ``x = a + b * (y - horizon)``: (a_l, b_l, a_r, b_r).
    """
    rng, w, h = cv.rng, cv.w, cv.h
    m = cv.mask()
    m[horizon:] = 1
    cv.paint(m, _jitter(rng, (165, 150, 150), 25), SIDEWALK, noise=8)
    tiles = cv.mask()  # paving joints: darker lines, still sidewalk
    depth = h - horizon
    for k in range(1, 12):
        y = horizon + int(depth * (k / 12) ** 1.6)
        cv2.line(tiles, (0, y), (w, y), 1, 1)
    cv.paint(tiles & m, _jitter(rng, (120, 110, 110), 15), SIDEWALK, noise=5)

    vx = rng.uniform(0.3, 0.7) * w
    top_half = rng.uniform(0.03, 0.12) * w
    bottom_l, bottom_r = vx - rng.uniform(0.45, 1.0) * w, vx + rng.uniform(0.45, 1.0) * w
    a_l, a_r = vx - top_half, vx + top_half
    b_l, b_r = (bottom_l - a_l) / depth, (bottom_r - a_r) / depth
    road = cv.mask()
    pts = np.array([[a_l, horizon], [a_r, horizon], [bottom_r, h], [bottom_l, h]])
    cv2.fillPoly(road, [np.round(pts).astype(np.int32)], 1)
    cv.paint(road, _jitter(rng, (85, 85, 90), 20), ROAD, noise=rng.uniform(5, 12))
    curb = cv.mask()
    for a, b in ((a_l, b_l), (a_r, b_r)):
        cv2.line(curb, (int(a), horizon), (int(a + b * depth), h), 1, max(1, h // 60))
    cv.paint(curb & ~road.astype(bool), _jitter(rng, (200, 200, 195), 15), SIDEWALK, noise=5)
    if rng.random() < 0.8:  # dashed centre line: road class
        marks = cv.mask()
        for k in range(8):
            y0 = horizon + depth * (k / 8) ** 1.5
            y1 = horizon + depth * ((k + 0.5) / 8) ** 1.5
            xs = vx + (bottom_l + bottom_r - 2 * vx) / 2 * (np.array([y0, y1]) - horizon) / depth
            thick = max(1, int(1 + 3 * (y0 - horizon) / depth))
            cv2.line(marks, (int(xs[0]), int(y0)), (int(xs[1]), int(y1)), 1, thick)
        cv.paint(marks & road, _jitter(rng, (225, 225, 220), 15), ROAD, noise=6)
    return a_l, b_l, a_r, b_r


def _pole(cv: _Canvas, horizon: int, x: float, y: float, depth: float) -> None:
    rng = cv.rng
    m = cv.mask()
    pw = max(1, int(round(1 + 3 * depth)))
    top = y - (y - horizon) * rng.uniform(3, 6) - 0.1 * cv.h
    cv2.rectangle(m, (int(x), int(top)), (int(x) + pw - 1, int(y)), 1, -1)
    if rng.random() < 0.5:  # a sign or lamp head on top, part of the pole
        s = int(2 + 5 * depth)
        cv2.rectangle(m, (int(x) - s, int(top)), (int(x) + pw + s, int(top) + s), 1, -1)
    cv.paint(m, _jitter(rng, (110, 110, 110), 40), POLE, noise=5)


def _car(cv: _Canvas, x: float, y: float, depth: float) -> None:
    rng, w = cv.rng, cv.w
    cw = depth * w * rng.uniform(0.22, 0.32)
    ch = cw * rng.uniform(0.5, 0.65)
    x0, x1, top = x - cw / 2, x + cw / 2, y - ch
    body = cv.mask()
    cv2.rectangle(body, (int(x0), int(y - ch * 0.55)), (int(x1), int(y - ch * 0.08)), 1, -1)
    cabin = np.array([[x0 + cw * 0.12, y - ch * 0.55], [x0 + cw * 0.25, top],
                      [x1 - cw * 0.25, top], [x1 - cw * 0.12, y - ch * 0.55]])
    cv2.fillPoly(body, [np.round(cabin).astype(np.int32)], 1)
    colors = ((200, 30, 30), (30, 50, 140), (210, 210, 215), (30, 30, 35), (130, 130, 135),
              (40, 110, 60))
    cv.paint(body, _jitter(rng, colors[rng.integers(len(colors))], 20), CAR, noise=5)
    glass = cv.mask()
    inset = np.array([[0.06, -0.05], [0.05, 0.1], [-0.05, 0.1], [-0.06, -0.05]]) * [cw, ch]
    cv2.fillPoly(glass, [np.round(cabin + inset).astype(np.int32)], 1)
    cv.paint(glass & body, _jitter(rng, (50, 60, 75), 10), CAR, noise=4)
    wheels = cv.mask()
    r = max(1, int(ch * 0.18))
    for wx in (x0 + cw * 0.22, x1 - cw * 0.22):
        cv2.circle(wheels, (int(wx), int(y - r)), r, 1, -1)
    cv.paint(wheels, (25, 25, 25), CAR, noise=4)


def _person(cv: _Canvas, x: float, y: float, depth: float) -> None:
    rng = cv.rng
    ph = depth * cv.h * rng.uniform(0.45, 0.65)
    pw = ph * rng.uniform(0.22, 0.3)
    legs, torso = cv.mask(), cv.mask()
    lw = max(1, int(pw * 0.3))
    stride = pw * rng.uniform(0.0, 0.35)
    for sx in (-1, 1):
        foot = (int(x + sx * stride), int(y))
        cv2.line(legs, (int(x + sx * pw * 0.15), int(y - ph * 0.45)), foot, 1, lw)
    cv2.rectangle(torso, (int(x - pw / 2), int(y - ph * 0.8)), (int(x + pw / 2),
                                                              int(y - ph * 0.42)), 1, -1)
    head = cv.mask()
    cv2.circle(head, (int(x), int(y - ph * 0.89)), max(1, int(ph * 0.09)), 1, -1)
    cv.paint(legs, _jitter(rng, (50, 50, 70), 30), PERSON, noise=5)
    cv.paint(torso, _random_cloth(rng), PERSON, noise=6)
    cv.paint(head, _jitter(rng, (190, 150, 120), 40), PERSON, noise=5)


def _random_cloth(rng: np.random.Generator) -> np.ndarray:
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(40, 230), rng.uniform(50, 230)]]])
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def render_city_scene(rng: np.random.Generator, width: int,
                      height: int) -> Tuple[np.ndarray, np.ndarray]:
    """Render one street scene.

    Returns:
        tuple: RGB uint8 image ``(H, W, 3)`` and uint8 trainId label map
        ``(H, W)`` with values in ``0..7`` or 255.
    """
    cv = _Canvas(rng, width, height)
    horizon = int(height * rng.uniform(0.38, 0.55))
    _sky(cv, horizon)
    _buildings(cv, horizon)
    _trees(cv, horizon)
    a_l, b_l, a_r, b_r = _ground(cv, horizon)

    # Things stand on the ground; paint far ones first so near ones occlude.
    depth_px = height - horizon
    things = []
    for _ in range(int(rng.integers(0, 4))):  # poles on the sidewalk
        y = horizon + depth_px * rng.uniform(0.1, 1.0)
        side = rng.choice([-1, 1])
        edge = a_l + b_l * (y - horizon) if side < 0 else a_r + b_r * (y - horizon)
        things.append((y, 'pole', edge + side * rng.uniform(0.02, 0.15) * width))
    for _ in range(int(rng.integers(0, 5))):  # cars on the road
        y = horizon + depth_px * rng.uniform(0.15, 1.1)
        lo, hi = a_l + b_l * (y - horizon), a_r + b_r * (y - horizon)
        things.append((y, 'car', rng.uniform(lo, hi)))
    for _ in range(int(rng.integers(0, 6))):  # pedestrians, mostly on the sidewalk
        y = horizon + depth_px * rng.uniform(0.1, 1.0)
        lo, hi = a_l + b_l * (y - horizon), a_r + b_r * (y - horizon)
        on_road = rng.random() < 0.2
        x = rng.uniform(lo, hi) if on_road else (
            lo - rng.uniform(0.02, 0.3) * width if rng.random() < 0.5
            else hi + rng.uniform(0.02, 0.3) * width)
        things.append((y, 'person', x))
    things.sort(key=lambda t: t[0])
    for y, kind, x in things:
        depth = (y - horizon) / depth_px
        if kind == 'pole':
            _pole(cv, horizon, x, y, depth)
        elif kind == 'car':
            _car(cv, x, y, depth)
        else:
            _person(cv, x, y, depth)

    if rng.random() < 0.25:  # ego-vehicle bonnet: ignored, as in Cityscapes
        m = cv.mask()
        cv2.ellipse(m, (width // 2, height + int(rng.uniform(0.0, 0.05) * height)),
                    (int(width * 0.7), int(height * rng.uniform(0.06, 0.12))), 0, 180, 360, 1, -1)
        cv.paint(m, _jitter(rng, (40, 40, 45), 15), IGNORE, noise=3)

    img = cv.img * np.float32(rng.uniform(0.75, 1.2)) + np.float32(rng.uniform(-20, 20))
    img += np.float32(rng.uniform(2, 7)) * rng.standard_normal(img.shape, dtype=np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), cv.lbl


# --------------------------------------------------------------------------- #
# Public entry point
# --------------------------------------------------------------------------- #
def _stem(split: str, index: int) -> Tuple[str, str]:
    cities = _CITIES[split]
    city = cities[index % len(cities)]
    return city, f'{city}_{index:06d}_000019'


def _city_files(out_dir: str, counts: Dict[str, int]) -> List[Tuple[str, str]]:
    pairs = []
    for split in ('train', 'val'):
        for i in range(counts[split]):
            city, stem = _stem(split, i)
            pairs.append((
                osp.join(out_dir, 'leftImg8bit', split, city, f'{stem}_leftImg8bit.png'),
                osp.join(out_dir, 'gtFine', split, city, f'{stem}_gtFine_labelTrainIds.png')))
    return pairs


def make_toy_cityscapes(out_dir: str,
                        num_train: int = 300,
                        num_val: int = 60,
                        img_size: Sequence[int] = (256, 128),
                        seed: int = 0,
                        progress: bool = False) -> Dict[str, str]:
    """Generate (or reuse) toy street scenes in the Cityscapes layout.

    Args:
        out_dir: target folder (created if missing).
        num_train / num_val: number of images per split.
        img_size: ``(W, H)`` of every image, each side >= 64.
        seed: the whole dataset is a pure function of the arguments.
        progress: show a progress bar while generating.

    Returns:
        dict of paths: ``data_root``, ``train_img_dir``, ``train_seg_dir``,
        ``val_img_dir``, ``val_seg_dir``, ``manifest``. If ``out_dir`` already
        holds a complete set made with the same arguments it is reused
        untouched; an incomplete or different one is regenerated.
    """
    width, height = _check_params(num_train, num_val, img_size, seed, min_side=64)
    out_dir = osp.abspath(out_dir)
    paths = dict(data_root=out_dir, manifest=osp.join(out_dir, _MANIFEST))
    for split in ('train', 'val'):
        paths[f'{split}_img_dir'] = osp.join(out_dir, 'leftImg8bit', split)
        paths[f'{split}_seg_dir'] = osp.join(out_dir, 'gtFine', split)
    counts = dict(train=int(num_train), val=int(num_val))
    params = dict(generator='toy_cityscapes', version=_VERSION, num_train=counts['train'],
                  num_val=counts['val'], img_size=[width, height], seed=int(seed))
    pairs = _city_files(out_dir, counts)
    files = [p for pair in pairs for p in pair]
    os.makedirs(out_dir, exist_ok=True)
    with _folder_lock(out_dir, 'toy_cityscapes'):
        if _is_complete(paths['manifest'], params, files):
            return paths
        if osp.exists(paths['manifest']):
            os.remove(paths['manifest'])
        for sub in ('leftImg8bit', 'gtFine'):
            _remove_stale(osp.join(out_dir, sub), _FILE_RE, set(files), recursive=True)
        for folder in {osp.dirname(p) for p in files}:
            os.makedirs(folder, exist_ok=True)

        bar = _Progress(len(pairs), progress)
        pixels = np.zeros(len(TOY_CITYSCAPES_CLASSES), np.int64)
        for split in ('train', 'val'):
            offset = 0 if split == 'train' else counts['train']
            for i in range(counts[split]):
                img, lbl = render_city_scene(_scene_rng(seed, split, i, salt=1), width, height)
                img_path, seg_path = pairs[offset + i]
                _atomic_write(img_path, _encode_png(img))
                _atomic_write(seg_path, _encode_png(lbl))
                if split == 'train':
                    pixels += np.bincount(lbl[lbl != IGNORE], minlength=len(pixels))
                bar.update()
        bar.close()
        manifest = dict(params=params, num_images=counts, classes=list(TOY_CITYSCAPES_CLASSES),
                        train_class_pixel_share={
                            c: round(float(p) / max(int(pixels.sum()), 1), 4)
                            for c, p in zip(TOY_CITYSCAPES_CLASSES, pixels)})
        _atomic_write(paths['manifest'], _dumps(manifest))
    return paths
