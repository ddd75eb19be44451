"""Softmax NLKD variants against the official evaluation: time and peak memory.

``NLKD_IN_Gaussian_Loss`` and ``NLKD_IN_EBGaussian_Loss`` (cankd) evaluate the
softmax attention with ``scaled_dot_product_attention`` (only a per-query
log-sum-exp is kept for backward); the official code (tori-hotaru/CanKD)
forms the B x HW x N logits, their softmax and a matmul, all kept by
autograd. :func:`official_loss` is that evaluation, written out with the same
modules, so both run on one set of weights; its loss and gradients are also
compared with ours (largest relative difference per tensor).

Used by :func:`cankd.utils.benchmark_loss.main` (CLI:
``tools/analysis_tools/benchmark_loss.py``); the measuring helpers (forked
processes, allocation-record peaks, rotated timing rounds) are that module's.
"""
import statistics
import time
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F

from cankd.models.losses.nlkd_family import NonLocalKDLoss
from . import benchmark_loss as bl
from .io import save_png

VARIANTS = {'gaussian': 'NLKD_IN_Gaussian_Loss', 'embedded_gaussian': 'NLKD_IN_EBGaussian_Loss'}
IMPLS = ('ours', 'official')
# gradients that are 0 but for rounding: constant shifts of every logit of a row
# (phi's bias) or of every position (g's bias: rows sum to 1; W's bias before a
# training BN; BN's bias before the instance norm)
STRUCTURAL_ZERO = ('phi.bias.grad', 'g.bias.grad', 'W.bias.grad', 'bn.bias.grad')


def official_loss(m: NonLocalKDLoss, s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The official evaluation order: B x HW x N logits, softmax, matmul, then
    W, BN, residual, InstanceNorm2d and MSE, on ``m``'s modules."""
    b, c, h, w = s.shape
    ci = m.inter_channels
    pool = (lambda x: F.max_pool2d(x, 2)) if m.sub_sample else (lambda x: x)
    if m.pairwise == 'gaussian':
        q, k = s.view(b, c, -1).permute(0, 2, 1), pool(t).view(b, c, -1)
    else:
        q = m.theta(s).view(b, ci, -1).permute(0, 2, 1)
        k = pool(m.phi(t)).view(b, ci, -1)
    att = F.softmax(torch.matmul(q, k), dim=-1)  # B x HW x N
    v = pool(m.g(t)).view(b, ci, -1).permute(0, 2, 1)
    y = torch.matmul(att, v).permute(0, 2, 1).contiguous().view(b, ci, h, w)
    z = m.bn(m.W(y)) + s
    return F.mse_loss(F.instance_norm(z), F.instance_norm(t)) / 2 * m.loss_weight


def _make(shape, variant: str, impl: str, device: str):
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(shape, generator=gen)
    t = (0.5 * s + torch.randn(shape, generator=gen)).to(device)
    s = s.to(device).requires_grad_()
    torch.manual_seed(0)
    m = NonLocalKDLoss(shape[1], pairwise=variant, loss_weight=10.0).to(device)
    with torch.no_grad():  # a trained-looking BN, so the attention path counts
        m.bn.weight.copy_(torch.randn(shape[1], generator=gen).to(device))
        m.bn.bias.copy_(torch.randn(shape[1], generator=gen).to(device))
    fn = m if impl == 'ours' else (lambda a, b: official_loss(m, a, b))
    return fn, m, s, t


def _step(fn, m, s, t):
    s.grad = None
    m.zero_grad(set_to_none=True)
    value = fn(s, t)
    value.backward()
    return value


def measure_memory(shape, variant: str, impl: str, device: str,
                   threads: Optional[int] = None) -> dict:
    """Peak memory of one forward + backward, in a process of its own; the
    official run then also runs ours and compares loss and gradients."""
    if threads:
        torch.set_num_threads(threads)
    fn, m, s, t = _make(shape, variant, impl, device)
    small_s = s[:1, :, :4, :4].detach().contiguous().requires_grad_()
    small_t = t[:1, :, :4, :4].contiguous()
    if device == 'cpu':  # set up the profiler and the math libraries
        bl._cpu_alloc_peak(lambda: _step(fn, m, small_s, small_t))
    else:
        _step(fn, m, small_s, small_t)
    rec = {}
    start = time.perf_counter()
    if device == 'cuda':
        rec['device_name'] = torch.cuda.get_device_name()
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        value = _step(fn, m, s, t)
        torch.cuda.synchronize()
        rec['peak_mem_mb'] = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        base_kb = bl._rss_kb('VmRSS')
        rss_ok = base_kb is not None and bl._reset_peak_rss()
        value, peak = bl._cpu_alloc_peak(lambda: _step(fn, m, s, t))
        rec['peak_mem_mb'] = peak / 2**20
        if rss_ok:
            rec['rss_peak_mb'] = (bl._rss_kb('VmHWM') - base_kb) / 1024
    rec['first_ms'] = (time.perf_counter() - start) * 1e3
    if impl == 'official':  # ours on the same weights and inputs
        ref = bl._snapshot(m, s, value)
        ours = bl._snapshot(m, s, _step(m, m, s, t))
        for key in STRUCTURAL_ZERO:  # both are rounding noise there
            ref.pop(key, None)
            ours.pop(key, None)
        rec['rel_err_by_tensor'] = bl._rel_errs(ours, ref)
        rec['max_rel_err'] = max(rec['rel_err_by_tensor'].values())
    return rec


def measure_times(shape, variant: str, device: str, runs: int,
                  threads: Optional[int] = None) -> Dict[str, List[float]]:
    """Forward + backward times (ms) of both implementations, alternating
    within every round (the start rotated) on a possibly busy machine."""
    if threads:
        torch.set_num_threads(threads)
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    made = {impl: _make(shape, variant, impl, device) for impl in IMPLS}
    times = {impl: [] for impl in IMPLS}
    for i in range(runs + 1):  # round 0 warms up
        for impl in IMPLS[i % 2:] + IMPLS[:i % 2]:
            sync()
            start = time.perf_counter()
            _step(*made[impl])
            sync()
            if i:
                times[impl].append((time.perf_counter() - start) * 1e3)
    return times


def variant_cases(cases: List[dict]) -> List[dict]:
    """P3 and the segmentation shape of the loss benchmark (custom shapes as given)."""
    return [c for c in cases if c['name'] in ('P3', 'seg-layer4') or c['group'] == 'custom']


def bench_variants(cases: List[dict], args, log=print) -> List[dict]:
    records = []
    for case in variant_cases(cases):
        shape = case['shape']
        for variant in VARIANTS:
            recs = {}
            for impl in IMPLS:
                log(f"  {case['name']} {VARIANTS[variant]} {impl}: memory")
                res = bl.run_isolated(measure_memory, (shape, variant, impl, args.device,
                                                       args.threads), args.device, args.timeout_s)
                recs[impl] = dict(case=case['name'], shape=list(shape), variant=variant,
                                  loss=VARIANTS[variant], impl=impl, **res)
            ok = [r for r in recs.values() if 'error' not in r]
            if len(ok) == 2:
                round_s = sum(r['first_ms'] for r in ok) / 1e3
                runs = max(2, min(args.repeats, int(args.budget_s / max(round_s, 1e-4))))
                log(f"  {case['name']} {VARIANTS[variant]}: timing, {runs} rounds")
                res = bl.run_isolated(measure_times, (shape, variant, args.device, runs,
                                                      args.threads), args.device, args.timeout_s)
                for impl, r in recs.items():
                    if 'error' in res:
                        r['error'] = 'timing: ' + res['error']
                    else:
                        r.update(time_ms=statistics.median(res[impl]),
                                 time_min_ms=min(res[impl]), runs=runs, times_ms=res[impl])
            records += recs.values()
    return records


def summarise(records: List[dict]) -> Dict[str, dict]:
    """official / ours per (case, variant): time and memory ratios (> 1: ours better)."""
    by = {(r['case'], r['variant'], r['impl']): r for r in records}
    out = {}
    for case, variant in dict.fromkeys((r['case'], r['variant']) for r in records):
        ours, off = by[case, variant, 'ours'], by[case, variant, 'official']
        if 'time_ms' in ours and 'time_ms' in off:
            out[f'{case}/{variant}'] = dict(
                memory_ratio=off['peak_mem_mb'] / max(ours['peak_mem_mb'], 1e-9),
                speedup=off['time_ms'] / ours['time_ms'],
                speedup_min=off['time_min_ms'] / ours['time_min_ms'],
                max_rel_err=off.get('max_rel_err'))
    return out


def print_table(records: List[dict]) -> None:
    head = (f"{'case':<11}{'shape':<18}{'loss':<25}{'impl':<10}{'time ms':>10}{'min ms':>10}"
            f"{'peak MB':>10}{'RSS MB':>9}{'rel err':>10}")
    print(head)
    print('-' * len(head))
    for r in records:
        shape = 'x'.join(str(x) for x in r['shape'])
        lead = f"{r['case']:<11}{shape:<18}{r['loss']:<25}{r['impl']:<10}"
        if 'error' in r:
            print(lead + f"ERROR {r['error']}")
            continue
        print(lead + f"{bl._fmt(r.get('time_ms')):>10}{bl._fmt(r.get('time_min_ms')):>10}"
              f"{r['peak_mem_mb']:>10.1f}"
              f"{bl._fmt(r.get('rss_peak_mb')):>9}{bl._fmt(r.get('max_rel_err'), '.1e'):>10}")


def plot(records: List[dict], path: str, device_name: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    done = [r for r in records if 'time_ms' in r]
    tag = lambda r: f"{r['case']}\n{r['loss'][8:-5]}"  # noqa: E731  (NLKD_IN_..._Loss)
    groups = list(dict.fromkeys(tag(r) for r in done))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label in zip(axes, ('time_ms', 'peak_mem_mb'),
                              ('forward + backward time (ms)', 'peak memory (MB)')):
        for j, impl in enumerate(IMPLS):
            vals = {tag(r): r[key] for r in done if r['impl'] == impl}
            ax.bar([i + 0.4 * j - 0.2 for i in range(len(groups))],
                   [vals.get(g, 0) for g in groups], width=0.4, label=impl)
        ax.set_xticks(range(len(groups)), groups, fontsize=7)
        ax.set_ylabel(label)
        ax.set_yscale('log')
        ax.legend()
        ax.grid(True, axis='y', which='both', alpha=0.3)
    fig.suptitle(f'softmax NLKD variants: cankd vs the official evaluation, {device_name}',
                 fontsize=10)
    fig.tight_layout()
    save_png(fig, path)
