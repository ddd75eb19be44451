"""The CanKD paper's ablation on the toy data: the seg quickstart pair with each
member of the non-local KD family, over several seeds.

:func:`run_ablation` reuses the quickstart's stages (:mod:`cankd.apis.quickstart`,
same work dir layout): the teacher, the student alone (``student_seed<s>``) and
the dot-product variant, which *is* CanKD (``cankd_seed<s>``), so an existing
``tools/quickstart.py --seeds N`` run is reused and vice versa. The other
variants train in ``DIR/ablation/<variant>_seed<s>/``: the quickstart's CanKD
stage config with the loss ``type`` swapped for the official alias (all of them
take CanKD's constructor arguments, ``in_channels`` and ``loss_weight`` here).

Runs go seed by seed (every variant for seed 0, then seed 1, ...), so an
interrupted or time-boxed run leaves a balanced partial table. Every stage ends
with ``result.json``; a rerun reuses them and resumes the unfinished stage.
Writes ``DIR/ablation/summary.json`` and ``DIR/ablation/ablation.png``.
``tools/analysis_tools/ablation.py`` is its command line.
"""
import os
import os.path as osp
import statistics
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

from cankd.apis.quickstart import (TASKS, make_data, read_finished, run_stage, seed_stats,
                                   stage_config)
from cankd.apis.stage_pool import run_plan
from cankd.utils.io import atomic_write_json, save_png

__all__ = ['VARIANTS', 'run_ablation', 'collect', 'summarize_ablation', 'plot_ablation']

# name -> (label, loss type). 'dot' is the quickstart's own CanKD stage.
VARIANTS = {
    'dot': ('dot product (CanKD)', 'CanKDLoss'),
    'gaussian': ('Gaussian', 'NLKD_IN_Gaussian_Loss'),
    'embedded_gaussian': ('embedded Gaussian', 'NLKD_IN_EBGaussian_Loss'),
    'concatenation': ('concatenation', 'NLKD_IN_Concatenation_Loss'),
    'wo_in': ('without instance norm', 'NLKD_woIN_Loss'),
    'wo_skip': ('without skip', 'NLKD_WOSkip_Loss'),
}


def stage_name(variant: str, seed: int) -> str:
    """The stage's folder, relative to the quickstart work dir."""
    if variant == 'dot':
        return f'cankd_seed{seed}'
    return osp.join('ablation', f'{variant}_seed{seed}')


def swap_loss(cfg: Config, loss_type: str) -> int:
    """Set every CanKDLoss of the distiller to ``loss_type``; how many were swapped."""
    swapped = 0
    for loss in cfg.model.distiller.distill_losses.values():
        if loss.get('type') in ('CanKDLoss', 'cankd.CanKDLoss'):
            loss.type = loss_type
            swapped += 1
    if not swapped:
        raise ValueError('no CanKDLoss in the config\'s distill_losses to swap')
    return swapped


def _check_variants(variants: Sequence[str]) -> List[str]:
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise ValueError(f'variants must be among {list(VARIANTS)}, got {list(variants)}')
    return list(dict.fromkeys(variants))


def run_ablation(work_dir: Optional[str] = None, data_root: str = 'data', seeds: int = 3,
                 variants: Sequence[str] = tuple(VARIANTS), max_iters: Optional[int] = None,
                 quick: bool = False, verbose: bool = False, task: str = 'seg',
                 jobs: int = 1) -> Dict:
    """Train (or reuse) teacher, students and every variant; the summary.

    Args:
        work_dir: the quickstart's work dir (default ``work_dirs/quickstart/seg``).
        data_root: where the toy dataset is generated.
        seeds: seeds ``0..seeds-1`` for the student alone and every variant.
        variants: keys of :data:`VARIANTS`.
        max_iters: override the configs' schedule (all models).
        quick: smoke test, a few iterations on a few images (CI).
        verbose: mmengine's console output instead of progress lines.
        jobs: stages trained at once, each in its own process with
            ``cpu_count // jobs`` threads (the students start with the teacher;
            the variants once it is done). Runs stay in seed order.
    """
    if task != 'seg':
        raise ValueError('the ablation runs on the seg quickstart only')
    if seeds < 1:
        raise ValueError(f'seeds must be >= 1, got {seeds}')
    variants = _check_variants(variants)
    work_dir = work_dir or osp.join('work_dirs', 'quickstart', task)
    print(f'[ablation] toy data in {data_root} (generated unless complete)', flush=True)
    data = make_data(task, data_root, quick)
    plan = [dict(name='teacher', kind='teacher', seed=0, loss_type=None, needs=[])]
    for seed in range(seeds):
        plan.append(dict(name=f'student_seed{seed}', kind='student', seed=seed,
                         loss_type=None, needs=[]))
        plan += [dict(name=stage_name(v, seed), kind='cankd', seed=seed,
                      loss_type=VARIANTS[v][1], needs=['teacher']) for v in variants]
    width = max(len(stage['name']) for stage in plan)
    for index, stage in enumerate(plan, 1):
        stage.update(task=task, data=data, quick=quick, max_iters=max_iters,
                     verbose=verbose, work_dir=osp.join(work_dir, stage['name']),
                     label=f'[{index}/{len(plan)}] {stage["name"]:<{width}}')
    results = run_plan(plan, _run_stage, jobs)
    return _finish(work_dir, results, variants, seeds, partial=False)


def _run_stage(stage: Dict, needed: Dict) -> Dict:
    """Train and test one stage (in a worker process with ``jobs > 1``)."""
    kwargs = dict(teacher_ckpt=needed['teacher']['checkpoint']) if needed else {}
    cfg = stage_config(stage['task'], stage['kind'], stage['work_dir'], stage['data'],
                       stage['seed'], quick=stage['quick'], max_iters=stage['max_iters'],
                       **kwargs)
    if stage['loss_type'] is not None:
        swap_loss(cfg, stage['loss_type'])
    metric, metric_name = TASKS[stage['task']]['metric'], TASKS[stage['task']]['metric_name']
    return run_stage(stage['name'], cfg, metric, metric_name, verbose=stage['verbose'],
                     label=stage['label'])


def collect(work_dir: Optional[str] = None, seeds: int = 3,
            variants: Sequence[str] = tuple(VARIANTS)) -> Dict:
    """The summary of the finished stages only (no training): a partial table."""
    variants = _check_variants(variants)
    work_dir = work_dir or osp.join('work_dirs', 'quickstart', 'seg')
    names = ['teacher'] + [f'student_seed{s}' for s in range(seeds)] + [
        stage_name(v, s) for s in range(seeds) for v in variants]
    results = read_finished(work_dir, names)
    if 'teacher' not in results:
        raise FileNotFoundError(f'no finished teacher in {work_dir}: nothing to report')
    return _finish(work_dir, results, variants, seeds, partial=True)


def _finish(work_dir: str, results: Dict, variants: List[str], seeds: int,
            partial: bool) -> Dict:
    summary = summarize_ablation(results, variants, seeds, partial=partial)
    out = osp.join(work_dir, 'ablation')
    os.makedirs(out, exist_ok=True)
    atomic_write_json(summary, osp.join(out, 'summary.json'))
    plot_ablation(summary, osp.join(out, 'ablation.png'))
    print(f'wrote {osp.join(out, "summary.json")} and {osp.join(out, "ablation.png")}')
    return summary


def summarize_ablation(results: Dict[str, Dict], variants: Sequence[str], seeds: int,
                       partial: bool = False) -> Dict:
    """Mean ± std per row (only the seeds finished), printed as a table."""
    teacher = results['teacher']
    student = seed_stats([results[f'student_seed{s}'] for s in range(seeds)
                      if f'student_seed{s}' in results])
    rows = {}
    for variant in variants:
        label, loss_type = VARIANTS[variant]
        st = seed_stats([results[stage_name(variant, s)] for s in range(seeds)
                     if stage_name(variant, s) in results])
        if st['n'] and student['n']:
            # paired gain: the same seeds only
            pairs = [(results[stage_name(variant, s)]['metric'],
                      results[f'student_seed{s}']['metric']) for s in range(seeds)
                     if stage_name(variant, s) in results and f'student_seed{s}' in results]
            st['gain'] = statistics.mean(v - b for v, b in pairs)
        else:
            st['gain'] = None
        rows[variant] = dict(label=label, loss_type=loss_type, **st)
    complete = student['n'] == seeds and all(r['n'] == seeds for r in rows.values())
    summary = dict(task='seg', metric='mIoU', seeds=seeds, partial=partial and not complete,
                   teacher=dict(metric=teacher['metric'], train_time_s=teacher['train_time_s']),
                   student=student, variants=rows, runs=results)
    print(format_table(summary))
    return summary


def _fmt(st: Dict) -> str:
    if not st['n']:
        return 'not run yet'
    return f'{st["mean"]:.2f} ± {st["std"]:.2f} (n={st["n"]})'


def format_table(summary: Dict) -> str:
    """The summary as a Markdown table (as printed)."""
    lines = []
    if summary['partial']:
        lines.append(f'PARTIAL: not every row has all {summary["seeds"]} seeds (n per row)')
    lines += ['| model | loss type | mIoU (mean ± std) | vs student alone | train time |',
              '|---|---|---|---|---|']
    t = summary['teacher']
    lines.append(f'| teacher (R-18 w32) | - | {t["metric"]:.2f} (seed 0) | - | '
                 f'{t["train_time_s"]:.0f} s |')
    s = summary['student']
    s_time = f'{s["train_time_s"]:.0f} s' if s['n'] else '-'
    lines.append(f'| student alone (R-18 w8) | - | {_fmt(s)} | - | {s_time} |')
    for row in summary['variants'].values():
        gain = f'{row["gain"]:+.2f}' if row['gain'] is not None else '-'
        time_s = f'{row["train_time_s"]:.0f} s' if row['n'] else '-'
        lines.append(f'| student + {row["label"]} | {row["loss_type"]} | {_fmt(row)} | '
                     f'{gain} | {time_s} |')
    return '\n' + '\n'.join(lines) + '\n'


def plot_ablation(summary: Dict, path: str) -> None:
    """Bars (mean ± std) with each seed's point; teacher and student alone as lines."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = list(summary['variants'].values())
    fig, ax = plt.subplots(figsize=(8.0, 4.4))
    xs = range(len(rows))
    means = [r['mean'] if r['n'] else 0.0 for r in rows]
    stds = [r['std'] if r['n'] else 0.0 for r in rows]
    ax.bar(xs, means, yerr=stds, capsize=4, color='tab:orange', alpha=0.6,
           label='student + variant (mean ± std)')
    for x, row in zip(xs, rows):
        ax.scatter([x] * row['n'], row['values'], color='black', s=12, zorder=3,
                   label='one seed' if x == 0 else None)
    s = summary['student']
    if s['n']:
        ax.axhline(s['mean'], color='tab:blue',
                   label=f'student alone ({s["mean"]:.2f}, n={s["n"]})')
        if s['n'] > 1:
            ax.axhspan(s['mean'] - s['std'], s['mean'] + s['std'], color='tab:blue', alpha=0.12)
    t = summary['teacher']['metric']
    ax.axhline(t, color='gray', linestyle='--', label=f'teacher ({t:.2f})')
    ax.set_xticks(list(xs))
    ax.set_xticklabels([r['label'].replace(' (CanKD)', '\n(CanKD)') for r in rows],
                       rotation=20, ha='right', fontsize=8)
    values = [v for r in rows for v in r['values']] + [t] + (s['values'] if s['n'] else [])
    low, high = min(values), max(values)
    margin = max((high - low) * 0.3, 0.01)
    ax.set_ylim(max(low - margin, 0.0), high + margin)
    ax.set_ylabel('val mIoU')
    title = f'CanKD ablation on toy Cityscapes ({summary["seeds"]} seeds'
    ax.set_title(title + (', PARTIAL)' if summary['partial'] else ')'))
    ax.grid(axis='y', alpha=0.3)
    ax.legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    save_png(fig, path)
