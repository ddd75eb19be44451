"""Benchmark the CanKD loss: time and peak memory of forward + backward.

Association orders of ``CanKDLoss`` over the FPN levels, the segmentation
shape and a size sweep; then the softmax NLKD variants against the official
evaluation at FPN P3 and the segmentation shape. The logic lives in
:mod:`cankd.utils.benchmark_loss` and :mod:`cankd.utils.benchmark_nlkd`.

Example::

    python tools/analysis_tools/benchmark_loss.py --out work_dirs/loss_bench
    python tools/analysis_tools/benchmark_loss.py --out /tmp/b --quick
    python tools/analysis_tools/benchmark_loss.py --out /tmp/b --variants-only
"""
from cankd.utils.benchmark_loss import build_cases, main, parse_args

__all__ = ['build_cases', 'main', 'parse_args']

if __name__ == '__main__':
    main()
