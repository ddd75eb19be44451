"""The CanKD paper's ablation on the toy data, in one command.

    python tools/analysis_tools/ablation.py [--seeds 3] [--variants dot gaussian ...]
        [--work-dir work_dirs/quickstart/seg] [--jobs 2] [--report-only]

Runs the seg quickstart pair (teacher R-18 w32 -> student R-18 w8 on toy
Cityscapes) with each member of the non-local KD family: dot product (CanKD
itself), Gaussian, embedded Gaussian, concatenation, without instance norm,
without skip, over seeds 0..N-1; reuses the quickstart's teacher, students and
CanKD runs (same work dir). Prints a table (mean ± std mIoU, train time), writes
``DIR/ablation/summary.json`` and ``DIR/ablation/ablation.png``. Rerun the same
command to continue an interrupted run; ``--report-only`` tabulates the
finished runs without training. Logic: :mod:`cankd.apis.ablation`.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import cankd  # noqa: E402,F401  (safe checkpoint loading, atomic saving)

from cankd.apis.ablation import VARIANTS, collect, run_ablation  # noqa: E402
from cankd.apis.quickstart import QUICK  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default=None,
                        help='the quickstart\'s work dir (default: work_dirs/quickstart/seg)')
    parser.add_argument('--data-root', default='data',
                        help='where the toy dataset is generated (default: data/)')
    parser.add_argument('--seeds', type=int, default=3, help='seeds 0..N-1 (default 3)')
    parser.add_argument('--variants', nargs='+', choices=list(VARIANTS),
                        default=list(VARIANTS), help='default: all')
    parser.add_argument('--max-iters', type=int, default=None,
                        help='override the configs\' schedule (all models)')
    parser.add_argument('--quick', action='store_true',
                        help=f'smoke test: {QUICK["max_iters"]} iterations on '
                        f'{QUICK["num_train"]} images (CI)')
    parser.add_argument('--jobs', type=int, default=1,
                        help='stages trained at once, one process each (default 1)')
    parser.add_argument('--report-only', action='store_true',
                        help='no training: the table of the finished runs (marked partial)')
    parser.add_argument('--verbose', action='store_true',
                        help='stream mmengine\'s console output instead of progress lines')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.seeds < 1:
        raise SystemExit('--seeds must be >= 1')
    if args.report_only:
        try:
            return collect(args.work_dir, seeds=args.seeds, variants=args.variants)
        except FileNotFoundError as err:
            raise SystemExit(f'[ablation] {err}') from None
    try:
        return run_ablation(work_dir=args.work_dir, data_root=args.data_root,
                            seeds=args.seeds, variants=args.variants,
                            max_iters=args.max_iters, quick=args.quick, verbose=args.verbose,
                            jobs=args.jobs)
    except KeyboardInterrupt:  # Ctrl-C: no traceback, the work dir is resumable
        print('\n[ablation] interrupted: run the same command again to resume',
              file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == '__main__':
    main()
