"""The main job in one command: distil a student on the embedded toy data.

    python tools/quickstart.py [--task det|seg] [--work-dir DIR] [--seeds N] [--verbose]

Generates the toy dataset if absent, trains the teacher (or reuses it), trains
the student alone and the student with CanKD from the teacher (same schedule,
same seeds), evaluates all three with the real metric (COCO bbox mAP through
pycocotools, or mIoU), prints a table and writes ``DIR/summary.json`` and
``DIR/val_curve.png``. One progress line per stage; each stage's full
mmengine log stays in ``DIR/<stage>/`` (``--verbose`` streams it instead).
Rerunning after an interruption reuses finished stages and resumes the
unfinished one. Logic: :mod:`cankd.apis.quickstart`.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import cankd  # noqa: E402,F401  (safe checkpoint loading, atomic saving)

from cankd.apis.quickstart import QUICK, TASKS, run_quickstart  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--task', choices=sorted(TASKS), default='seg',
                        help='seg (default): FCN on toy street scenes; '
                        'det: RetinaNet on toy shapes')
    parser.add_argument('--work-dir', default=None,
                        help='default: work_dirs/quickstart/<task>')
    parser.add_argument('--data-root', default='data',
                        help='where the toy dataset is generated (default: data/)')
    parser.add_argument('--seeds', type=int, default=1,
                        help='train student and distilled student with seeds 0..N-1')
    parser.add_argument('--max-iters', type=int, default=None,
                        help='override the configs\' schedule (all three models)')
    parser.add_argument('--quick', action='store_true',
                        help=f'smoke test: {QUICK["max_iters"]} iterations on '
                        f'{QUICK["num_train"]} images (CI)')
    parser.add_argument('--verbose', action='store_true',
                        help='stream mmengine\'s console output (hooks, config, per-class '
                        'tables) instead of one progress line per stage')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.seeds < 1:
        raise SystemExit('--seeds must be >= 1')
    try:
        return run_quickstart(task=args.task, work_dir=args.work_dir,
                              data_root=args.data_root, seeds=args.seeds,
                              max_iters=args.max_iters, quick=args.quick, verbose=args.verbose)
    except KeyboardInterrupt:  # Ctrl-C: no traceback, the work dir is resumable
        print('\n[quickstart] interrupted: run the same command again to resume',
              file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == '__main__':
    main()
