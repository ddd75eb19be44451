"""Train a detector, segmentor or distillation algorithm from a config.

Works for mmdet, mmseg and cankd configs alike (the config's ``default_scope``
picks the registries); same options as mmdetection 3.x's ``tools/train.py``::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--auto-scale-lr] [--cfg-options k=v ...] [--launcher pytorch]

Multi-process: ``tools/dist_train.sh CONFIG NPROC`` (CPU machines use gloo,
see :mod:`cankd.utils.launcher`).
"""
import argparse
import logging
import os
import os.path as osp
from typing import List, Optional

import cankd  # noqa: F401  (first: routes mmengine checkpoint loading through safe_load)
from mmengine.config import Config, DictAction
from mmengine.device import (is_cuda_available, is_mlu_available, is_musa_available,
                             is_npu_available)
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from cankd.engine.safety_defaults import apply_safety_defaults
from cankd.utils import (exit_without_native_teardown, register_all_modules,
                         setup_cpu_distributed, shutdown_distributed)
from cankd.utils.data_check import DatasetError, build_checked_dataloaders, check_data_or_exit
from cankd.utils.launcher import explain_collective_timeout


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train a detector / segmentor / distillation algorithm')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true',
        help='mixed precision: fp16 AMP on a GPU, bfloat16 autocast on CPU')
    parser.add_argument(
        '--check-data', action='store_true',
        help='first decode every train/val image and list the bad files (exit 1 if any); '
        'then train')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the LR by (total batch size / auto_scale_lr.base_batch_size)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint; without a path, from the latest '
        'checkpoint in the work dir')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value (e.g. train_cfg.max_iters=4); '
        'lists as key="[a,b]" or key=a,b, no white space')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2) or --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def register_all() -> None:
    """Fill the mmdet, mmseg and cankd registries; the config's
    ``default_scope`` then picks which one a bare type name resolves in."""
    from mmdet.utils import register_all_modules as register_mmdet
    from mmdet.utils import setup_cache_size_limit_of_dynamo
    from mmseg.utils import register_all_modules as register_mmseg

    # mmdet's tools do this: fewer torch.compile recompilations (env-tunable).
    setup_cache_size_limit_of_dynamo()
    register_mmdet(init_default_scope=False)
    register_mmseg(init_default_scope=False)
    register_all_modules(init_default_scope=False)


def has_amp_device() -> bool:
    """Whether mmengine's AmpOptimWrapper can run here (it asserts one of these)."""
    return (is_cuda_available() or is_npu_available() or is_mlu_available()
            or is_musa_available())


def enable_amp(cfg: Config) -> None:
    """GPU: mmengine's AmpOptimWrapper; CPU: bf16 autocast (cankd.CPUAmpOptimWrapper)."""
    from cankd.engine.optim_wrappers import enable_amp as switch_to_amp
    kind = (cfg.get('optim_wrapper') or {}).get('type')
    try:
        new_kind = switch_to_amp(cfg, has_amp_device())
    except ValueError as error:
        raise SystemExit(f'--amp: {error}') from None
    if kind == new_kind:
        print_log('AMP training is already enabled in the config.',
                  logger='current', level=logging.WARNING)
    elif new_kind == 'cankd.CPUAmpOptimWrapper':
        print_log('--amp without a GPU: bfloat16 autocast on CPU '
                  '(cankd.CPUAmpOptimWrapper, no loss scaling)', logger='current')


def enable_auto_scale_lr(cfg: Config) -> None:
    scale = cfg.get('auto_scale_lr')
    if not scale or 'base_batch_size' not in scale:
        raise SystemExit('--auto-scale-lr needs auto_scale_lr=dict(enable=False, '
                         'base_batch_size=N) in the config (mmdet configs have it)')
    scale.enable = True


def build_config(args: argparse.Namespace) -> Config:
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    # work_dir priority: CLI > config > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    # Stop on a non-finite loss, resume exactly (cankd.engine.hooks).
    apply_safety_defaults(cfg)
    if args.amp:
        enable_amp(cfg)
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg)

    # A path resumes from it; no path resumes from work_dir's last_checkpoint.
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def build_runner(cfg: Config) -> Runner:
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise SystemExit(f'config file not found: {args.config}')
    if args.resume not in (None, 'auto') and '://' not in args.resume \
            and not osp.isfile(args.resume):
        raise SystemExit(f'--resume: checkpoint not found: {args.resume}')
    cfg = build_config(args)  # option errors surface here, before the heavy imports
    register_all()
    if args.check_data:
        check_data_or_exit(cfg)
    setup_cpu_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    try:  # an empty dataset: name it, its data_root and annotation file
        build_checked_dataloaders(runner)
    except DatasetError as error:
        raise SystemExit(f'error: {error}') from None
    with explain_collective_timeout(cfg):  # a stuck peer: say so, exit 1
        runner.train()


if __name__ == '__main__':
    main()
    # Every rank has finished; models are freed with main()'s frame.
    if shutdown_distributed():
        exit_without_native_teardown(0)
