"""Decode every image (and segmentation map) of a config's datasets and list
the files that cannot be read, before spending hours of training on them.

    python tools/misc/check_data.py CONFIG [--splits train val] [--workers 4]
        [--cfg-options k=v ...]

Exits 1 when a file is bad or a dataset is empty (the dataset, its data_root
and annotation file are named). ``tools/train.py CONFIG --check-data`` runs
the same check (train and val) before training. Logic:
:mod:`cankd.utils.data_check`.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import cankd  # noqa: E402,F401
from mmengine.config import Config, DictAction  # noqa: E402

from cankd.utils.data_check import check_data_or_exit  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file (mmdet, mmseg or cankd)')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'],
                        choices=['train', 'val', 'test'],
                        help='which <split>_dataloader datasets to check (default: train val)')
    parser.add_argument('--workers', type=int, default=4, help='decoding threads (default 4)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise SystemExit(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    check_data_or_exit(cfg, args.splits, args.workers)


if __name__ == '__main__':
    main()
