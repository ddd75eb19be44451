"""Benchmark one distillation training iteration against its baselines.

Times, per distillation config and on one synthetic batch, the student alone
(A), the student plus the teacher's forward (B) and the distillation step (C),
interleaved, with the phases of each step and, when C / B is above
``--target``, the operators that account for C - B. What each mode runs and
how it is measured: :mod:`cankd.utils.benchmark_train_step`, where the logic
lives.

Example::

    python tools/analysis_tools/benchmark_train_step.py \\
        configs/quickstart/cankd_fcn_r18w32-r18w8_toy-cityscapes.py \\
        configs/quickstart/cankd_retinanet_r18-r18w16_toy-coco.py \\
        --out work_dirs/train_step_bench --batch-size 8
"""
import argparse
import os.path as osp
import sys

from cankd.utils.benchmark_train_step import QUICKSTART, run_benchmark


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='*', metavar='CONFIG', default=list(QUICKSTART),
                        help='distillation config(s); default: the two quickstart configs')
    parser.add_argument('--out', required=True,
                        help='folder for train_step_benchmark.json/.png')
    parser.add_argument('--repeats', type=int, default=10, help='timed rounds (default 10)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed rounds first')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--img-size', type=int, nargs=2, default=None, metavar=('H', 'W'),
                        help='image size of the synthetic batch; default per task: det 160 160, '
                        'seg 64 128 (what the quickstart pipelines produce); the data '
                        'preprocessor may still pad it (input_shape in the JSON)')
    parser.add_argument('--threads', type=int, default=None,
                        help="torch.set_num_threads (default: torch's own)")
    parser.add_argument('--target', type=float, default=1.15,
                        help='C/B ratio to meet; above it the steps are profiled')
    parser.add_argument('--profile', action='store_true',
                        help='profile B and C whatever the ratio')
    parser.add_argument('--profile-steps', type=int, default=3)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0 or args.batch_size < 1:
        parser.error('--repeats and --batch-size must be >= 1, --warmup >= 0')
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    command = ' '.join([osp.basename(sys.argv[0] if argv is None else __file__)] +
                       (sys.argv[1:] if argv is None else list(argv)))
    return run_benchmark(args.configs, args.out, repeats=args.repeats, warmup=args.warmup,
                         batch_size=args.batch_size, img_size=args.img_size,
                         threads=args.threads, target=args.target, profile=args.profile,
                         profile_steps=args.profile_steps, command=command)


if __name__ == '__main__':
    main()
