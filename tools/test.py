"""Test (and evaluate) a checkpoint: mmdet, mmseg and cankd configs.

Same options as mmdetection 3.x's ``tools/test.py``::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out res.pkl]
        [--show-dir DIR] [--cfg-options k=v ...] [--launcher pytorch]

The metrics of the config's ``test_evaluator`` (COCO mAP, mIoU, ...) appear
in the runner's log. ``--out`` adds a dump of every prediction (mmdet's
``DumpDetResults`` for detectors, mmengine's ``DumpResults`` otherwise),
written to a temporary file and renamed, so ``--out`` never names a
half-written file.
"""
import argparse
import inspect
import os
import os.path as osp
from typing import List, Optional

import cankd  # noqa: F401  (first: routes mmengine checkpoint loading through safe_load)
from mmengine.config import Config, DictAction
from mmengine.dist import is_main_process
from mmengine.registry import HOOKS, RUNNERS
from mmengine.runner import Runner

from cankd.utils import (exit_without_native_teardown, register_all_modules,
                         setup_cpu_distributed, shutdown_distributed)
from cankd.utils.data_check import DatasetError, build_checked_dataloaders
from cankd.utils.launcher import explain_collective_timeout


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file (path or URL)')
    parser.add_argument(
        '--work-dir', help='the dir to save the file containing evaluation metrics')
    parser.add_argument(
        '--out', help='dump predictions to this .pkl file for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='save painted images here. mmdet: relative paths go under '
        'work_dir/<timestamp>/; mmseg: images land in DIR/vis_data/vis_image and only '
        'every default_hooks.visualization.interval-th batch is drawn')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value; lists as key="[a,b]" or key=a,b')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def check_args(args: argparse.Namespace) -> None:
    """Fail on bad paths before anything heavy is imported or built."""
    if not osp.isfile(args.config):
        raise SystemExit(f'config file not found: {args.config}')
    # URLs and model-zoo names (torchvision://, s3://, ...) are fetched later.
    if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint not found: {args.checkpoint}')
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise SystemExit(f'--out must name a .pkl or .pickle file, got {args.out}')


def register_all() -> None:
    """Fill the mmdet, mmseg and cankd registries (see tools/train.py)."""
    from mmdet.utils import register_all_modules as register_mmdet
    from mmdet.utils import setup_cache_size_limit_of_dynamo
    from mmseg.utils import register_all_modules as register_mmseg

    setup_cache_size_limit_of_dynamo()
    register_mmdet(init_default_scope=False)
    register_mmseg(init_default_scope=False)
    register_all_modules(init_default_scope=False)


def _hook_class(hook: dict, cfg: Config) -> Optional[type]:
    kind = hook.get('type')
    if not isinstance(kind, str):
        return kind
    if '.' in kind:
        return HOOKS.get(kind)
    for scope in (hook.get('_scope_'), cfg.get('default_scope'), 'mmdet', 'mmseg'):
        found = HOOKS.get(f'{scope}.{kind}') if scope else None
        if found is not None:
            return found
    return None


def trigger_visualization_hook(cfg: Config, args: argparse.Namespace) -> None:
    """Turn on drawing in ``default_hooks.visualization``.

    mmdet's DetVisualizationHook takes ``test_out_dir``; mmseg's
    SegVisualizationHook writes through the visualizer's ``save_dir``.
    """
    hook = (cfg.get('default_hooks') or {}).get('visualization')
    if hook is None:
        raise SystemExit(
            '--show/--show-dir need default_hooks.visualization in the config, e.g. '
            "dict(type='DetVisualizationHook') or dict(type='SegVisualizationHook')")
    hook.draw = True
    if args.show:
        hook.show = True
        hook.wait_time = args.wait_time
    if args.show_dir:
        hook_cls = _hook_class(hook, cfg)
        if hook_cls is None:
            raise SystemExit(f'unknown visualization hook type {hook.get("type")!r}')
        if 'test_out_dir' in inspect.signature(hook_cls).parameters:
            hook.test_out_dir = args.show_dir
        elif cfg.get('visualizer') is not None:
            cfg.visualizer.save_dir = args.show_dir
        else:
            raise SystemExit('--show-dir: the config has no visualizer to save images with')


def add_dump_metric(runner: Runner, tmp_out: str) -> None:
    """Append a prediction-dump metric matching the evaluator's task."""
    metrics = runner.test_evaluator.metrics
    if any(type(m).__module__.startswith('mmdet.') for m in metrics):
        from mmdet.evaluation import DumpDetResults as Dump  # RLE-encodes masks
    else:
        from mmengine.evaluator import DumpResults as Dump
    metrics.append(Dump(out_file_path=tmp_out))


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    check_args(args)
    register_all()

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # work_dir priority: CLI > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        trigger_visualization_hook(cfg, args)

    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    try:  # an empty dataset: name it, its data_root and annotation file
        build_checked_dataloaders(runner, splits=('test', ))
    except DatasetError as error:
        raise SystemExit(f'error: {error}') from None

    tmp_out = None
    if args.out is not None:
        out = osp.abspath(args.out)
        os.makedirs(osp.dirname(out), exist_ok=True)
        # Same directory, so the final os.replace is an atomic rename.
        tmp_out = osp.join(osp.dirname(out), f'.{osp.basename(out)}.{os.getpid()}.tmp.pkl')
        add_dump_metric(runner, tmp_out)
    try:
        with explain_collective_timeout(cfg):  # a stuck peer: say so, exit 1
            runner.test()
        if tmp_out is not None and is_main_process():
            os.replace(tmp_out, out)
            print(f'predictions written to {out}')
    finally:
        if tmp_out is not None and osp.exists(tmp_out):
            os.remove(tmp_out)


if __name__ == '__main__':
    main()
    # Every rank has finished; models are freed with main()'s frame.
    if shutdown_distributed():
        exit_without_native_teardown(0)
