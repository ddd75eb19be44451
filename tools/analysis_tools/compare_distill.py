"""Distillation methods side by side on the toy detection data, in one command.

    python tools/analysis_tools/compare_distill.py [head teachers] [--seeds 3]
        [--max-iters N] [--work-dir work_dirs/quickstart/det] [--jobs 2] [--report-only]

``head``: student alone vs CanKD on the FPN vs CrossKD on the head vs both in
one config. ``teachers``: student alone vs CanKD from one teacher vs CanKD
from two teachers at once. One student for every row (RetinaNet, 1/4-width
ResNet-18 with the teacher's 64-channel FPN and head), seeds 0..N-1; the
teachers (RetinaNet R-18, seeds 0 and 1) are trained once, the first is the
det quickstart's. Prints a table per comparison and writes
``DIR/compare/<comparison>.json``, ``.md`` and ``.png``. Rerun the same command
to continue an interrupted run; ``--report-only`` tabulates the finished runs.
Logic: :mod:`cankd.apis.compare`.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import cankd  # noqa: E402,F401  (safe checkpoint loading, atomic saving)

from cankd.apis.compare import COMPARISONS, collect_comparison, run_comparison  # noqa: E402
from cankd.apis.quickstart import QUICK  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('comparisons', nargs='*', metavar='COMPARISON',
                        help=f'among {list(COMPARISONS)} (default: all)')
    parser.add_argument('--work-dir', default=None,
                        help='default: work_dirs/quickstart/det (the det quickstart\'s)')
    parser.add_argument('--data-root', default='data',
                        help='where the toy dataset is generated (default: data/)')
    parser.add_argument('--seeds', type=int, default=3, help='seeds 0..N-1 (default 3)')
    parser.add_argument('--max-iters', type=int, default=None,
                        help='the students\' schedule (default: the configs\' 1500); '
                        'the teachers keep theirs')
    parser.add_argument('--quick', action='store_true',
                        help=f'smoke test: {QUICK["max_iters"]} iterations on '
                        f'{QUICK["num_train"]} images (CI)')
    parser.add_argument('--jobs', type=int, default=1,
                        help='stages trained at once, one process each (default 1)')
    parser.add_argument('--report-only', action='store_true',
                        help='no training: the tables of the finished runs (marked partial)')
    parser.add_argument('--verbose', action='store_true',
                        help='stream mmengine\'s console output instead of progress lines')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    unknown = [c for c in args.comparisons if c not in COMPARISONS]
    if unknown:
        raise SystemExit(f'unknown comparison(s) {unknown}; valid: {list(COMPARISONS)}')
    args.comparisons = args.comparisons or list(COMPARISONS)
    if args.seeds < 1:
        raise SystemExit('--seeds must be >= 1')
    if args.max_iters is not None and args.max_iters < 1:
        raise SystemExit('--max-iters must be >= 1')
    if args.report_only:
        try:
            return collect_comparison(args.comparisons, args.work_dir, seeds=args.seeds,
                                      max_iters=args.max_iters)
        except FileNotFoundError as err:
            raise SystemExit(f'[compare] {err}') from None
    try:
        return run_comparison(args.comparisons, work_dir=args.work_dir,
                              data_root=args.data_root, seeds=args.seeds,
                              max_iters=args.max_iters, quick=args.quick,
                              verbose=args.verbose, jobs=args.jobs)
    except KeyboardInterrupt:  # Ctrl-C: no traceback, the work dir is resumable
        print('\n[compare] interrupted: run the same command again to resume',
              file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == '__main__':
    main()
