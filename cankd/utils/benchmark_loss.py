"""Benchmark the CanKD loss: time and peak memory of forward + backward.

For every feature shape it measures the automatic association order, the
forced quadratic order (the published ``(Q^T K) V``), the forced linear order
(``Q^T (K V)``) and the "floor" (the loss with the attention products
replaced by a no-op: projections, pooling, W, norms and MSE only), with
parameters and inputs as in training (BN weights non-zero, loss_weight 10).

Memory: every (shape, order) runs one call in a forked process of its own, so
peaks never mix. Reported is the peak of live tensor bytes above what existed
before the call (inputs, parameters), gradients included: on CUDA
``torch.cuda.max_memory_allocated``; on CPU the same quantity rebuilt from
torch's own allocation records (``torch.profiler`` with ``profile_memory``:
every c10 allocation and free, in order). The process's peak-RSS growth
(``VmHWM`` after a reset through ``/proc/self/clear_refs``) is kept as a
cross-check that includes allocator effects.

Time: median over rounds after a warm-up; each round, in one more process,
calls every order once in turn, so that a busy spell of a shared machine hits
all orders alike. The quadratic order's process also compares the two orders'
loss and gradients (max relative difference).

The CanKD paper's softmax variants (``NLKD_IN_Gaussian_Loss``,
``NLKD_IN_EBGaussian_Loss``) are compared side by side with the official
evaluation (the HW x N matrix, softmax, matmul) at FPN P3 and the
segmentation shape: see :mod:`cankd.utils.benchmark_nlkd`.

The CLI is ``tools/analysis_tools/benchmark_loss.py``. Example::

    python tools/analysis_tools/benchmark_loss.py --out work_dirs/loss_bench
    python tools/analysis_tools/benchmark_loss.py --out /tmp/b --quick
"""
import argparse
import json
import multiprocessing as mp
import os
import os.path as osp
import platform
import statistics
import sys
import time
import traceback
from typing import Dict, List, Optional

import torch

from cankd.models.losses.cankd_loss import CanKDLoss, select_association_order
from cankd.utils.io import atomic_write_text, save_png

ORDERS = ('auto', 'quadratic', 'linear', 'floor')
FPN = [('P3', 100, 168), ('P4', 50, 84), ('P5', 25, 42), ('P6', 13, 21), ('P7', 7, 11)]
# between and beyond the FPN levels (HW 64 ... 33600, the last twice P3's area)
SWEEP = [(8, 8), (16, 16), (36, 56), (72, 112), (200, 168)]


class FloorLoss(CanKDLoss):
    """CanKD without the attention products: what reordering cannot remove.

    W(Y) becomes W(Q + mean(K) + mean(V)): phi and g (and their backward)
    stay in the graph at O(C' (HW + N)) cost, and so does the C' -> C
    projection by W; everything else is the real loss.
    """

    def _attend_project(self, q, k, v, order):
        y = q + (k.mean(-1, keepdim=True) + v.mean(-1, keepdim=True))
        return self._project(self.W.weight.to(q.dtype), y, self.W.bias.to(q.dtype).view(1, -1, 1))


def build_cases(quick: bool, shapes: Optional[str]) -> List[dict]:
    if shapes:  # hidden option: 'BxCxHxW,BxCxHxW' (tests, quick looks)
        cases = []
        for i, spec in enumerate(shapes.split(',')):
            b, c, h, w = (int(x) for x in spec.lower().split('x'))
            cases.append(dict(name=f'custom{i}', group='custom', shape=(b, c, h, w)))
        return cases
    if quick:
        return [dict(name='P3', group='fpn', shape=(2, 256, 100, 168))]
    cases = [dict(name=n, group='fpn', shape=(2, 256, h, w)) for n, h, w in FPN]
    cases.append(dict(name='seg-layer4', group='seg', shape=(2, 2048, 64, 128)))
    fpn_sizes = {(h, w) for _, h, w in FPN}
    cases += [dict(name=f'{h}x{w}', group='sweep', shape=(2, 256, h, w))
              for h, w in SWEEP if (h, w) not in fpn_sizes]
    return cases


# ----------------------------------------------------------------------------
# measurement (runs in the child process)
# ----------------------------------------------------------------------------
def _rss_kb(field: str) -> Optional[int]:
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def _cpu_alloc_peak(fn):
    """Run ``fn``; return its result and the peak bytes of live torch CPU
    tensors during the call, above what was live at its start."""
    from torch.profiler import ProfilerActivity, profile
    saved = os.dup(2)  # kineto prints start/stop lines on stderr
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            result = fn()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    cpu = torch._C._autograd.DeviceType.CPU
    events = [e for e in prof.profiler.kineto_results.events()
              if e.name() == '[memory]' and e.device_type() == cpu]
    cur = peak = 0
    for e in sorted(events, key=lambda e: e.start_ns()):
        cur += e.nbytes()
        peak = max(peak, cur)
    return result, peak


def _make(shape, order: str, device: str):
    gen = torch.Generator().manual_seed(0)
    b, c, h, w = shape
    s = torch.randn(shape, generator=gen)
    t = (0.5 * s + torch.randn(shape, generator=gen)).to(device)
    s = s.to(device).requires_grad_()
    torch.manual_seed(0)
    cls = FloorLoss if order == 'floor' else CanKDLoss
    loss = cls(c, loss_weight=10.0, order='linear' if order == 'floor' else order).to(device)
    with torch.no_grad():  # a trained-looking BN, so the attention path counts
        loss.bn.weight.copy_(torch.randn(c, generator=gen).to(device))
        loss.bn.bias.copy_(torch.randn(c, generator=gen).to(device))
    return loss, s, t


def _step(loss, s, t):
    s.grad = None
    loss.zero_grad(set_to_none=True)
    value = loss(s, t)
    value.backward()
    return value


def _snapshot(loss, s, value) -> Dict[str, torch.Tensor]:
    out = {'loss': value.detach().double().reshape(1), 's_feature.grad': s.grad.double()}
    out.update({f'{k}.grad': p.grad.double() for k, p in loss.named_parameters()})
    return out


def _rel_errs(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> Dict[str, float]:
    """max|a - b| / max|b| per tensor. Tensors whose reference is ~0 are left
    out: W.bias and bn.bias get no gradient (constant shifts vanish in the
    instance norm), so theirs is rounding noise."""
    top = max(float(v.abs().max()) for k, v in b.items() if k != 'loss')
    errs = {}
    for k, ref in b.items():
        scale = float(ref.abs().max())
        if k == 'loss' or scale > 1e-6 * top:
            errs[k] = float((a[k] - ref).abs().max()) / scale
    return errs


def _grad_rel_l2(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> float:
    """||a - b|| / ||b|| over all gradients together (student feature and
    parameters, each scaled to unit max so that none dominates by its units)."""
    top = max(float(v.abs().max()) for k, v in b.items() if k != 'loss')
    num = den = 0.0
    for k, ref in b.items():
        scale = float(ref.abs().max())
        if k != 'loss' and scale > 1e-6 * top:  # as in _rel_errs
            num += float(((a[k] - ref) / scale).square().sum())
            den += float((ref / scale).square().sum())
    return (num / den) ** 0.5


def _first_call_warm_up(loss, s, t) -> None:
    """Set up the profiler and the math libraries (threads, buffers) on a 4x4
    crop, so that the measured call sees itself only."""
    small_s, small_t = s[:1, :, :4, :4].detach().requires_grad_(), t[:1, :, :4, :4]
    if s.device.type == 'cpu':
        _cpu_alloc_peak(lambda: _step(loss, small_s, small_t))
    else:
        _step(loss, small_s, small_t)
    s.grad = None
    loss.zero_grad(set_to_none=True)


def measure_memory(shape, order: str, device: str, threads: Optional[int] = None) -> dict:
    """Peak memory of one forward + backward call, in a process of its own; the
    quadratic order also checks the linear one against itself."""
    if threads:
        torch.set_num_threads(threads)
    loss, s, t = _make(shape, order, device)
    b, c, h, w = shape
    n = (h // min(h, 2)) * (w // min(w, 2))
    rec = dict(selected_order=select_association_order(h * w, n, loss.inter_channels, c)
               if order == 'auto' else order)
    _first_call_warm_up(loss, s, t)
    start = time.perf_counter()
    if device == 'cuda':
        rec['device_name'] = torch.cuda.get_device_name()
        _step(loss, s, t)  # cuBLAS workspaces are set up on the first full-size call
        s.grad = None
        loss.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        value = _step(loss, s, t)
        torch.cuda.synchronize()
        rec['peak_mem_mb'] = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        base_kb = _rss_kb('VmRSS')
        rss_ok = base_kb is not None and _reset_peak_rss()
        value, peak = _cpu_alloc_peak(lambda: _step(loss, s, t))
        rec['peak_mem_mb'] = peak / 2**20
        if rss_ok:
            rec['rss_peak_mb'] = (_rss_kb('VmHWM') - base_kb) / 1024
    rec['first_ms'] = (time.perf_counter() - start) * 1e3
    if order == 'quadratic':  # compare with the linear order, same weights and inputs
        ref = _snapshot(loss, s, value)
        loss.order = 'linear'
        lin = _snapshot(loss, s, _step(loss, s, t))
        rec['rel_err_by_tensor'] = _rel_errs(lin, ref)
        rec['max_rel_err'] = max(rec['rel_err_by_tensor'].values())
        rec['grad_rel_l2'] = _grad_rel_l2(lin, ref)
    return rec


def measure_times(shape, orders: List[str], device: str, runs: int,
                  threads: Optional[int] = None) -> Dict[str, List[float]]:
    """Forward + backward times (ms), the orders taken in turn in each round
    (rotating the start) so that a busy spell of the machine hits all alike."""
    if threads:
        torch.set_num_threads(threads)
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    made = {order: _make(shape, order, device) for order in orders}
    for loss, s, t in made.values():
        _first_call_warm_up(loss, s, t)
    times = {order: [] for order in orders}
    for i in range(runs):
        # rotate the start so that no order always follows the same one
        for order in orders[i % len(orders):] + orders[:i % len(orders)]:
            loss, s, t = made[order]
            sync()
            start = time.perf_counter()
            _step(loss, s, t)
            sync()
            times[order].append((time.perf_counter() - start) * 1e3)
    return times


def _child(conn, fn, *args) -> None:
    try:
        conn.send(('ok', fn(*args)))
    except BaseException:  # report any failure (e.g. out of memory) to the parent
        conn.send(('error', traceback.format_exc(limit=3)))
    finally:
        conn.close()


def run_isolated(fn, args: tuple, device: str, timeout_s: float):
    """``fn(*args)`` in a child process; returns its result or dict(error=...)."""
    # torch is imported here but never run: forking is safe and skips the imports;
    # CUDA cannot be forked into, so CUDA children start afresh.
    ctx = mp.get_context('spawn' if device == 'cuda' else 'fork')
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, fn) + tuple(args))
    proc.start()
    send.close()
    result = None
    if recv.poll(timeout_s):
        try:
            result = recv.recv()
        except EOFError:
            pass
    proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return dict(error=f'timed out after {timeout_s} s')
    if result is None:
        return dict(error=f'child exited with code {proc.exitcode} (killed for memory?)')
    status, payload = result
    return payload if status == 'ok' else dict(error=payload.strip().splitlines()[-1])


def bench_case(case: dict, orders: List[str], args, progress) -> List[dict]:
    shape = case['shape']
    records = []
    for order in orders:
        progress(f'{order} memory')
        res = run_isolated(measure_memory, (shape, order, args.device, args.threads),
                           args.device, args.timeout_s)
        records.append(dict(case=case['name'], group=case['group'], shape=list(shape),
                            hw=shape[2] * shape[3], order=order, device=args.device, **res))
    ok = [r for r in records if 'error' not in r]
    if ok:
        # repeats (at least 2) rounds; more when a round is short, fewer past the budget
        round_s = sum(r['first_ms'] for r in ok) / 1e3
        runs = max(args.repeats, min(100, int(2.0 / max(round_s, 1e-4))))
        runs = max(2, min(runs, int(args.budget_s / max(round_s, 1e-4))))
        progress(f'timing, {runs} rounds of {len(ok)} orders')
        res = run_isolated(measure_times, (shape, [r['order'] for r in ok], args.device, runs,
                                           args.threads), args.device, args.timeout_s)
        for r in ok:
            if 'error' in res:
                r['error'] = 'timing: ' + res['error']
                continue
            times = res[r['order']]
            r.update(time_ms=statistics.median(times), time_min_ms=min(times), runs=runs,
                     times_ms=times)
    return records


# ----------------------------------------------------------------------------
# reporting
# ----------------------------------------------------------------------------
def load_avg() -> Optional[List[float]]:
    """1/5/15-minute load averages: other processes on the machine skew timings."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _fmt(x, spec='.1f') -> str:
    return '-' if x is None else format(x, spec)


def summarise(records: List[dict]) -> dict:
    by = {(r['case'], r['order']): r for r in records if 'error' not in r}
    out = {'cases': {}}
    worst_auto = worst_sel = 0.0
    for case in dict.fromkeys(r['case'] for r in records):
        auto, quad, lin, floor = (by.get((case, o)) for o in ORDERS)
        item = {}
        if auto and quad:
            item['speedup_vs_quadratic'] = quad['time_ms'] / auto['time_ms']
            item['memory_ratio_vs_quadratic'] = quad['peak_mem_mb'] / max(auto['peak_mem_mb'],
                                                                          1e-9)
        if auto and quad and lin:
            best = min(quad['time_ms'], lin['time_ms'])
            item['auto_over_best_forced'] = auto['time_ms'] / best
            worst_auto = max(worst_auto, item['auto_over_best_forced'])
            # auto runs exactly the kernels of the order it selects: this one
            # says whether the selection was right, free of auto's own noise
            chosen = quad if auto['selected_order'] == 'quadratic' else lin
            item['selected_over_best_forced'] = chosen['time_ms'] / best
            worst_sel = max(worst_sel, item['selected_over_best_forced'])
        if auto and floor:
            item['time_over_floor'] = auto['time_ms'] / floor['time_ms']
            item['memory_over_floor'] = auto['peak_mem_mb'] / max(floor['peak_mem_mb'], 1e-9)
        if quad and 'max_rel_err' in quad:
            item['max_rel_err'] = quad['max_rel_err']
            item['grad_rel_l2'] = quad['grad_rel_l2']
        out['cases'][case] = item
    errs = [v['max_rel_err'] for v in out['cases'].values() if 'max_rel_err' in v]
    out['max_rel_err'] = max(errs) if errs else None
    out['worst_auto_over_best_forced'] = worst_auto or None
    out['worst_selected_over_best_forced'] = worst_sel or None
    l2 = [v['grad_rel_l2'] for v in out['cases'].values() if 'grad_rel_l2' in v]
    out['grad_rel_l2'] = max(l2) if l2 else None
    return out


def print_table(records: List[dict], summary: dict) -> None:
    head = (f"{'case':<11}{'shape':<18}{'order':<10}{'selected':<10}{'time ms':>10}{'min ms':>10}"
            f"{'peak MB':>10}{'RSS MB':>9}{'x quad t':>9}{'x quad m':>9}{'rel err':>10}")
    print(head)
    print('-' * len(head))
    by = {(r['case'], r['order']): r for r in records}
    for r in records:
        shape = 'x'.join(str(x) for x in r['shape'])
        if 'error' in r:
            print(f"{r['case']:<11}{shape:<18}{r['order']:<10}ERROR {r['error']}")
            continue
        quad = by.get((r['case'], 'quadratic'))
        ok = quad and 'error' not in quad
        ratio_t = quad['time_ms'] / r['time_ms'] if ok else None
        ratio_m = quad['peak_mem_mb'] / max(r['peak_mem_mb'], 1e-9) if ok else None
        err = summary['cases'].get(r['case'], {}).get('max_rel_err')
        print(f"{r['case']:<11}{shape:<18}{r['order']:<10}{r.get('selected_order', ''):<10}"
              f"{r['time_ms']:>10.1f}{r['time_min_ms']:>10.1f}{r['peak_mem_mb']:>10.1f}"
              f"{_fmt(r.get('rss_peak_mb')):>9}"
              f"{_fmt(ratio_t, '.2f'):>9}{_fmt(ratio_m, '.2f'):>9}"
              f"{_fmt(err if r['order'] == 'quadratic' else None, '.1e'):>10}")


def plot(records: List[dict], path: str, device_name: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    # the 256-channel, batch-2 maps (FPN levels and the sweep) share one axis
    series = [r for r in records if 'error' not in r and r['group'] != 'seg']
    styles = dict(auto=dict(marker='o', lw=2), quadratic=dict(marker='s'),
                  linear=dict(marker='^', ls='--'), floor=dict(marker='.', ls=':', color='gray'))
    for order in ORDERS:
        pts = sorted((r['hw'], r['time_ms'], r['peak_mem_mb'])
                     for r in series if r['order'] == order)
        if not pts:
            continue
        hw = [p[0] for p in pts]
        axes[0].plot(hw, [p[1] for p in pts], label=order, **styles[order])
        axes[1].plot(hw, [max(p[2], 1e-3) for p in pts], label=order, **styles[order])
    shapes = sorted({tuple(r['shape'][:2]) for r in series})
    tag = ', '.join(f'B={b}, C={c}' for b, c in shapes)
    for ax, ylabel in zip(axes, ('forward + backward time (ms)', 'peak memory (MB)')):
        ax.set_xscale('log')
        ax.set_yscale('log')
        ax.set_xlabel('H x W (query positions)')
        ax.set_ylabel(ylabel)
        ax.grid(True, which='both', alpha=0.3)
        ax.legend()
    fig.suptitle(f'CanKD loss forward + backward, {tag}, {device_name}', fontsize=10)
    fig.tight_layout()
    save_png(fig, path)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', required=True, help='folder for loss_benchmark.json/.png')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--repeats', type=int, default=5,
                        help='timed rounds (one call of every order each) per case; more for '
                        'fast cases, fewer once --budget-s would be exceeded; at least 2')
    parser.add_argument('--budget-s', type=float, default=40.0,
                        help='time budget for the timed rounds of one case')
    parser.add_argument('--timeout-s', type=float, default=600.0,
                        help='give up on one case and order after this long')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch intra-op threads (default: torch\'s, one per core)')
    parser.add_argument('--quick', action='store_true', help='FPN P3 only, 2 repeats')
    parser.add_argument('--no-variants', action='store_true',
                        help='skip the softmax NLKD variants vs the official evaluation')
    parser.add_argument('--variants-only', action='store_true',
                        help='only the softmax NLKD variants vs the official evaluation '
                        '(FPN P3 and the segmentation shape; P3 alone with --quick)')
    parser.add_argument('--orders', default=','.join(ORDERS), help=argparse.SUPPRESS)
    parser.add_argument('--shapes', default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no CUDA device is visible to torch')
    if args.quick:
        args.repeats = min(args.repeats, 2)
    os.makedirs(args.out, exist_ok=True)
    cases = build_cases(args.quick, args.shapes)
    orders = [o for o in args.orders.split(',') if o] if not args.variants_only else []
    threads = args.threads or torch.get_num_threads()
    if args.device == 'cpu':
        device_name = f'{cpu_model()}, {threads} threads'
    else:
        device_name = 'cuda'  # the children fill in the name: CUDA stays uninitialised here
    meta = dict(command=' '.join([osp.basename(sys.argv[0])] + (argv or sys.argv[1:])),
                torch=torch.__version__, device=args.device, device_name=device_name,
                threads=threads, repeats=args.repeats, budget_s=args.budget_s,
                load_avg_start=load_avg(),
                date=time.strftime('%Y-%m-%d %H:%M:%S'),
                memory_method='torch.cuda.max_memory_allocated' if args.device == 'cuda'
                else 'torch.profiler allocation records (peak live bytes)')
    records = []
    t0 = time.perf_counter()
    for i, case in enumerate(cases if orders else []):
        def progress(what, i=i, case=case):
            print(f"[{i + 1}/{len(cases)}] {case['name']} {'x'.join(map(str, case['shape']))}: "
                  f'{what} ({time.perf_counter() - t0:.0f} s elapsed)', flush=True)

        new = bench_case(case, orders, args, progress)
        records += new
        for r in new:
            print('    ' + (f"{r['order']}: ERROR {r['error']}" if 'error' in r else
                            f"{r['order']}: {r['time_ms']:.1f} ms, {r['peak_mem_mb']:.1f} MB"),
                  flush=True)
    if args.device == 'cuda':
        meta['device_name'] = next(
            (r['device_name'] for r in records if 'device_name' in r), 'cuda')
    summary = summarise(records)
    result = dict(meta=meta, records=records, summary=summary)
    if not args.no_variants:
        from . import benchmark_nlkd
        variants = benchmark_nlkd.bench_variants(cases, args, lambda x: print(x, flush=True))
        result['variants'] = dict(records=variants,
                                  summary=benchmark_nlkd.summarise(variants))
    meta['wall_s'] = time.perf_counter() - t0
    meta['load_avg_end'] = load_avg()
    json_path = osp.join(args.out, 'loss_benchmark.json')
    atomic_write_text(json.dumps(result, indent=1), json_path)
    if records:
        _report(records, summary, args.out, meta['device_name'])
    if 'variants' in result:
        from . import benchmark_nlkd
        print()
        benchmark_nlkd.print_table(result['variants']['records'])
        for key, item in result['variants']['summary'].items():
            print(f'{key}: official / ours: ' + ', '.join(
                f'{k}={_fmt(v, ".3g")}' for k, v in item.items()))
        if result['variants']['summary']:
            benchmark_nlkd.plot(result['variants']['records'],
                                osp.join(args.out, 'nlkd_variants.png'), meta['device_name'])
    print(f'wrote {json_path} and the plots ({meta["wall_s"]:.0f} s)')
    return result


def _report(records: List[dict], summary: dict, out: str, device_name: str) -> None:
    print()
    print_table(records, summary)
    print()
    for case, item in summary['cases'].items():
        parts = [f'{k}={v:.3g}' for k, v in item.items()]
        print(f'{case}: ' + ', '.join(parts))
    print(f"max relative difference between orders: {_fmt(summary['max_rel_err'], '.2e')} "
          f"(largest per tensor), {_fmt(summary['grad_rel_l2'], '.2e')} (all gradients, L2)")
    print(f"auto / best forced order: {_fmt(summary['worst_auto_over_best_forced'], '.2f')} "
          f"at worst; the selected order / best forced: "
          f"{_fmt(summary['worst_selected_over_best_forced'], '.2f')} at worst")
    if any('error' not in r for r in records):
        plot(records, osp.join(out, 'loss_benchmark.png'), device_name)
