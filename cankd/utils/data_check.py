"""Data sanity: empty datasets named before training, corrupt images found up front.

* :func:`build_checked_dataloaders` builds a runner's train/val dataloaders
  (what ``runner.train()`` would build first anyway) and turns an empty or
  unloadable dataset into a :class:`DatasetError` naming the dataset, its
  ``data_root`` and annotation file. mmdet's ``CocoDataset`` otherwise fails
  on an annotation file without images with ``need at least one array to
  concatenate``, and an empty segmentation folder trains on nothing: the
  infinite sampler of an empty dataset never yields a batch.
* :func:`check_data` decodes every image (and segmentation map) of a
  config's datasets and lists the files that cannot be read:
  ``python tools/misc/check_data.py CONFIG`` or ``tools/train.py --check-data``.
"""
import json
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from mmengine.config import Config

from .progress import ProgressLine

__all__ = ['DatasetError', 'BadFile', 'describe_dataset', 'build_dataset_checked',
           'build_checked_dataloaders', 'check_data', 'check_files', 'format_report',
           'check_data_or_exit']

SPLITS = ('train', 'val', 'test')


class DatasetError(ValueError):
    """A dataset of the config is empty or cannot be loaded."""


@dataclass
class BadFile:
    split: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f'{self.path}: {self.reason} ({self.split})'


# --------------------------------------------------------------------------- #
# Naming a dataset
# --------------------------------------------------------------------------- #
def _leaves(dataset_cfg) -> List[dict]:
    """The concrete dataset configs below dataset wrappers (Concat, Repeat, ...)."""
    if not isinstance(dataset_cfg, dict):
        return []
    if 'datasets' in dataset_cfg:
        return [leaf for sub in dataset_cfg['datasets'] for leaf in _leaves(sub)]
    if isinstance(dataset_cfg.get('dataset'), dict):
        return _leaves(dataset_cfg['dataset'])
    return [dataset_cfg]


def _join(root: Optional[str], path: Optional[str]) -> Optional[str]:
    if not path:
        return path
    return path if (root is None or osp.isabs(path) or '://' in path) else osp.join(root, path)


def describe_dataset(dataset_cfg, split: str = 'train') -> str:
    """``train dataset CocoDataset (data_root='data/coco/', ann_file='...' -> '...', ...)``."""
    parts = []
    for leaf in _leaves(dataset_cfg) or [dataset_cfg]:
        leaf = dict(leaf) if isinstance(leaf, dict) else {}
        root = leaf.get('data_root')
        fields = [f'data_root={root!r}']
        ann = leaf.get('ann_file')
        if ann:
            full = _join(root, ann)
            fields.append(f'ann_file={ann!r}' + (f' -> {full!r}' if full != ann else ''))
        prefix = leaf.get('data_prefix')
        if prefix:
            fields.append(f'data_prefix={dict(prefix)!r}')
        parts.append(f'{leaf.get("type", "?")} ({", ".join(fields)})')
    return f'{split} dataset ' + ' + '.join(parts)


def _annotation_problem(leaf: dict) -> Optional[str]:
    """Why a leaf's annotation file cannot give any sample, if visibly so."""
    ann = _join(leaf.get('data_root'), leaf.get('ann_file'))
    if not ann or '://' in ann:
        return None
    if not osp.exists(ann):
        return f'the annotation file {ann} does not exist'
    if osp.getsize(ann) == 0:
        return f'the annotation file {ann} is empty (0 bytes)'
    if ann.endswith('.json') and osp.getsize(ann) < 16 * 2**20:  # COCO's own: parsed once
        try:
            with open(ann) as f:
                content = json.load(f)
        except (OSError, ValueError) as error:
            return f'the annotation file {ann} is not valid JSON ({error})'
        if isinstance(content, dict) and 'images' in content and not content['images']:
            return (f'the annotation file {ann} lists no images (a COCO file needs a '
                    'non-empty "images" list)')
        if isinstance(content, dict) and 'data_list' in content and not content['data_list']:
            return f'the annotation file {ann} has an empty "data_list"'
    return None


def _empty_hint(dataset_cfg) -> str:
    hints = []
    for leaf in _leaves(dataset_cfg):
        root = leaf.get('data_root')
        for key, value in dict(leaf.get('data_prefix') or {}).items():
            folder = _join(root, value)
            if folder and '://' not in folder and not osp.isdir(folder):
                hints.append(f'data_prefix.{key} folder {folder} does not exist')
        if (leaf.get('filter_cfg') or {}).get('filter_empty_gt'):
            hints.append('filter_cfg.filter_empty_gt=True drops images without annotations')
    hints.append('check data_root and the annotation file / image folders (relative paths '
                 'are joined to data_root)')
    return '; '.join(hints)


def build_dataset_checked(dataset_cfg, split: str = 'train'):
    """Build a dataset from its config (current default scope) and check it
    holds at least one sample.

    Raises:
        DatasetError: naming the dataset, its ``data_root`` and annotation
            file, when it is empty or its annotations cannot be loaded.
    """
    from mmengine.registry import DATASETS
    for leaf in _leaves(dataset_cfg):
        problem = _annotation_problem(leaf)
        if problem:
            raise DatasetError(f'{describe_dataset(dataset_cfg, split)}: {problem}')
    try:
        dataset = DATASETS.build(dataset_cfg) if isinstance(dataset_cfg, dict) else dataset_cfg
        size = len(dataset)
    except DatasetError:
        raise
    except ValueError as error:
        if 'need at least one array to concatenate' not in str(error):
            raise DatasetError(f'{describe_dataset(dataset_cfg, split)} could not be loaded: '
                               f'{type(error).__name__}: {error}') from error
        size = 0  # mmengine's serialize_data of an empty data list
    except Exception as error:
        raise DatasetError(f'{describe_dataset(dataset_cfg, split)} could not be loaded: '
                           f'{type(error).__name__}: {error}') from error
    if size == 0:
        raise DatasetError(f'{describe_dataset(dataset_cfg, split)} is empty (0 samples): '
                           f'{_empty_hint(dataset_cfg)}')
    return dataset


# --------------------------------------------------------------------------- #
# Before runner.train()
# --------------------------------------------------------------------------- #
def build_checked_dataloaders(runner, splits: Sequence[str] = ('train', 'val')) -> None:
    """Build ``runner``'s dataloaders of ``splits`` now, each dataset checked
    by :func:`build_dataset_checked`, and hand them to the runner.

    ``Runner.train()`` builds the same dataloaders first thing (with the same
    seed), so nothing is built twice; an empty dataset then stops the run with
    a :class:`DatasetError` instead of an obscure error or a silent hang.
    """
    for split in splits:
        attr = f'_{split}_dataloader'
        loader_cfg = getattr(runner, attr, None)
        if not isinstance(loader_cfg, dict):
            continue  # not configured, or already built
        loader_cfg = dict(loader_cfg)
        loader_cfg['dataset'] = build_dataset_checked(loader_cfg['dataset'], split)
        diff_rank_seed = runner._randomness_cfg.get('diff_rank_seed', False)
        setattr(runner, attr, runner.build_dataloader(
            loader_cfg, seed=runner.seed, diff_rank_seed=diff_rank_seed))


# --------------------------------------------------------------------------- #
# Decoding every file
# --------------------------------------------------------------------------- #
_PNG_END = b'IEND\xaeB`\x82'


def _check_one(path: str, flag: str, size: Optional[Tuple[int, int]]) -> Optional[str]:
    """Why ``path`` cannot be used (None when it decodes), as the loaders read it."""
    import mmcv
    from mmengine.fileio import get
    try:
        data = get(path)
    except FileNotFoundError:
        return 'file not found'
    except Exception as error:  # permissions, backend errors
        return f'cannot be read: {type(error).__name__}: {error}'
    if not data:
        return 'empty file (0 bytes)'
    if data[:2] == b'\xff\xd8' and b'\xff\xd9' not in data[-1024:]:
        # cv2 decodes a cut JPEG (grey bottom rows) with only a warning
        return 'truncated JPEG (no end-of-image marker)'
    if data[:8] == b'\x89PNG\r\n\x1a\n' and _PNG_END not in data[-64:]:
        return 'truncated PNG (no IEND chunk)'
    try:
        img = mmcv.imfrombytes(data, flag=flag, backend='cv2')
    except Exception as error:
        return f'cannot be decoded: {type(error).__name__}: {error}'
    if img is None or img.size == 0:
        return 'cannot be decoded (not an image, or corrupt)'
    if size is not None and tuple(img.shape[:2]) != size:
        return (f'is {img.shape[1]}x{img.shape[0]} (WxH) but the annotation file says '
                f'{size[1]}x{size[0]}')
    return None


def _files_of(dataset) -> Iterable[Tuple[str, str, Optional[Tuple[int, int]]]]:
    """(path, decode flag, expected (H, W) or None) of every sample, deduplicated."""
    seen = set()
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        size = None
        if info.get('height') and info.get('width'):
            size = (int(info['height']), int(info['width']))
        for key, flag, expect in (('img_path', 'color', size),
                                  ('seg_map_path', 'unchanged', None)):
            path = info.get(key)
            if path and path not in seen:
                seen.add(path)
                yield path, flag, expect


def check_files(files: Sequence[Tuple[str, str, Optional[Tuple[int, int]]]], split: str,
                workers: int = 4, progress: Optional[ProgressLine] = None) -> List[BadFile]:
    """Decode ``files`` (path, flag, expected size) on ``workers`` threads."""
    bad = []
    with ThreadPoolExecutor(max(workers, 1)) as pool:
        for (path, _, _), reason in zip(files, pool.map(lambda f: _check_one(*f), files)):
            if reason is not None:
                bad.append(BadFile(split, path, reason))
                if progress is not None:
                    progress.message(f'  bad: {bad[-1]}')
            if progress is not None:
                progress.update(status=f'{len(bad)} bad')
    return bad


def check_data(cfg: Config, splits: Sequence[str] = ('train', 'val'), workers: int = 4,
               stream=None) -> Dict[str, List[BadFile]]:
    """Build the datasets of ``cfg``'s ``<split>_dataloader`` and decode every
    image and segmentation map they list, with one progress line per split.

    Returns:
        ``{split: [BadFile, ...]}`` for the splits the config has.

    Raises:
        DatasetError: a dataset is empty or its annotations cannot be loaded.
    """
    from mmengine.registry import init_default_scope

    from .model_inspect import register_all
    register_all()
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    results, done = {}, {}
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        key = repr(loader.get('dataset'))
        if key in done:  # test_dataloader = val_dataloader: checked once
            results[split] = done[key]
            continue
        dataset = build_dataset_checked(loader['dataset'], split)
        files = list(_files_of(dataset))
        progress = ProgressLine(len(files), f'checking {split} data', stream=stream)
        bad = check_files(files, split, workers, progress)
        progress.close(status=f'{len(files)} files, {len(bad)} bad')
        results[split] = done[key] = bad
    return results


def format_report(results: Dict[str, List[BadFile]]) -> str:
    """The bad files, one a line, or a one-line all-clear."""
    bad = [item for items in results.values() for item in items]
    if not bad:
        return f'data check: no bad files ({", ".join(results) or "no datasets"})'
    lines = [f'data check: {len(bad)} bad file(s):']
    lines += [f'  {item}' for item in bad]
    lines.append('Replace or remove these files (and their annotations) before training.')
    return '\n'.join(lines)


def check_data_or_exit(cfg: Config, splits: Sequence[str] = ('train', 'val'),
                       workers: int = 4, stream=None) -> None:
    """:func:`check_data` for a command line: prints the report; ``SystemExit``
    (status 1) when a file is bad or a dataset is empty."""
    import sys
    stream = stream if stream is not None else sys.stdout
    try:
        results = check_data(cfg, splits, workers, stream)
    except DatasetError as error:
        raise SystemExit(f'data check: {error}') from None
    print(format_report(results), file=stream, flush=True)
    if any(results.values()):
        raise SystemExit(1)
