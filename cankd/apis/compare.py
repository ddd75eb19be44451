"""Distillation methods side by side on the toy detection data, over seeds.

Two comparisons on the det quickstart's data, one student for all rows
(``retinanet_r18-w16h64_toy-coco.py``: the 1/4-width ResNet-18 with the
teacher's 64-channel FPN and head, which CrossKD needs):

* ``head``: student alone, CanKD on the FPN, CrossKD on the head, and both
  in one config (issue: feature vs head distillation);
* ``teachers``: student alone, CanKD from each teacher alone, CanKD from
  both at once (``MultiTeacherDistill``; the second teacher is the same
  config trained with seed 1).

:func:`run_comparison` trains (or reuses) the teachers in the quickstart's
layout (``DIR/teacher``, ``DIR/teacher_seed1``: the quickstart's own det
teacher is reused) and each row over seeds ``0..N-1`` in
``DIR/compare/<row>_seed<s>/``; rows shared by both comparisons train once.
The teachers keep their configs' schedule; ``max_iters`` sets the rows'
(students trained shorter than the teacher). Every stage ends with
``result.json`` and a rerun continues (:func:`cankd.apis.stage_pool.run_plan`).
Writes ``DIR/compare/<comparison>.json`` / ``.md`` / ``.png``: mean ± std per
row, the gain over the student alone paired by seed, every seed's number.
``tools/analysis_tools/compare_distill.py`` is its command line.
"""
import os
import os.path as osp
import statistics
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

from cankd.apis.quickstart import (REPO, TASKS, make_data, prepare_stage, read_finished,
                                   run_stage, seed_stats)
from cankd.apis.stage_pool import run_plan
from cankd.utils.io import atomic_write_json, atomic_write_text, save_png

__all__ = ['COMPARISONS', 'ROWS', 'TEACHERS', 'run_comparison', 'collect_comparison']

TASK = 'det'
QS = 'configs/quickstart/'
# teacher stage -> (config, seed); 'teacher' is the quickstart's det teacher
TEACHERS = {
    'teacher': (QS + 'retinanet_r18_toy-coco.py', 0),
    'teacher_seed1': (QS + 'retinanet_r18_toy-coco.py', 1),
}
# row -> (label, config, {teacher name in the config: teacher stage}); the name
# is None for single-teacher algorithms (``model.teacher_ckpt``)
ROWS = {
    'student': ('student alone', QS + 'retinanet_r18-w16h64_toy-coco.py', {}),
    'cankd': ('CanKD (FPN)', QS + 'cankd_retinanet_r18-r18w16h64_toy-coco.py',
              {None: 'teacher'}),
    'crosskd': ('CrossKD (head)', QS + 'crosskd_retinanet_r18-r18w16h64_toy-coco.py',
                {None: 'teacher'}),
    'cankd_crosskd': ('CanKD (FPN) + CrossKD (head)',
                      QS + 'cankd-crosskd_retinanet_r18-r18w16h64_toy-coco.py',
                      {None: 'teacher'}),
    # the same config from the second teacher: is two better than the better one?
    'cankd_teacher_seed1': ('CanKD (FPN), teacher_seed1 alone',
                            QS + 'cankd_retinanet_r18-r18w16h64_toy-coco.py',
                            {None: 'teacher_seed1'}),
    'cankd_2teachers': ('CanKD (FPN), two teachers',
                        QS + 'cankd_retinanet_r18x2-r18w16h64_toy-coco.py',
                        {'seed0': 'teacher', 'seed1': 'teacher_seed1'}),
}
COMPARISONS = {
    'head': dict(rows=('student', 'cankd', 'crosskd', 'cankd_crosskd'),
                 title='Feature vs head distillation'),
    'teachers': dict(rows=('student', 'cankd', 'cankd_teacher_seed1', 'cankd_2teachers'),
                     title='One teacher vs two'),
}


def _tag(max_iters: Optional[int]) -> str:
    """'' for the configs' schedule, '_<N>iters' otherwise: runs of another
    schedule never share a folder (or a cached result)."""
    return '' if max_iters is None else f'_{max_iters}iters'


def row_stage(row: str, seed: int, max_iters: Optional[int] = None) -> str:
    """The row's stage folder, relative to the work dir."""
    return osp.join('compare', f'{row}{_tag(max_iters)}_seed{seed}')


def _teacher_stages(rows: Sequence[str]) -> List[str]:
    return list(dict.fromkeys(t for r in rows for t in ROWS[r][2].values()))


def _check(comparisons: Sequence[str]) -> List[str]:
    unknown = [c for c in comparisons if c not in COMPARISONS]
    if unknown or not comparisons:
        raise ValueError(f'comparisons must be among {list(COMPARISONS)}, got '
                         f'{list(comparisons)}')
    return list(dict.fromkeys(comparisons))


def set_teacher_checkpoints(cfg: Config, checkpoints: Dict[Optional[str], str]) -> None:
    """Point the config's teacher(s) at ``{name in the config: checkpoint}``."""
    for name, ckpt in checkpoints.items():
        if name is None:
            cfg.model.teacher_ckpt = ckpt
        elif name not in cfg.model.get('teachers', {}):
            raise KeyError(f'the config has no teacher {name!r}; it has '
                           f'{list(cfg.model.get("teachers", {}))}')
        else:
            cfg.model.teachers[name].ckpt = ckpt


def _run_one(stage: Dict, needed: Dict) -> Dict:
    """Train and test one stage (runs in a worker process with ``jobs > 1``)."""
    cfg = Config.fromfile(osp.join(REPO, stage['config']))
    set_teacher_checkpoints(cfg, {name: needed[teacher]['checkpoint']
                                  for name, teacher in stage['teachers'].items()})
    cfg = prepare_stage(cfg, TASK, stage['work_dir'], stage['data'], stage['seed'],
                        quick=stage['quick'], max_iters=stage['max_iters'])
    return run_stage(stage['name'], cfg, TASKS[TASK]['metric'], TASKS[TASK]['metric_name'],
                     verbose=stage['verbose'], label=stage['label'])


def _plan(work_dir: str, rows: Sequence[str], seeds: int, data: str, quick: bool,
          max_iters: Optional[int], verbose: bool) -> List[Dict]:
    common = dict(data=data, quick=quick, verbose=verbose)
    plan = [dict(common, name=t, config=TEACHERS[t][0], seed=TEACHERS[t][1], teachers={},
                 needs=[], max_iters=None) for t in _teacher_stages(rows)]
    for seed in range(seeds):  # seed by seed: a stopped run leaves balanced rows
        for row in rows:
            label, config, teachers = ROWS[row]
            plan.append(dict(common, name=row_stage(row, seed, max_iters), config=config,
                             seed=seed, teachers=teachers, needs=list(teachers.values()),
                             max_iters=max_iters))
    width = max(len(s['name']) for s in plan)
    for index, stage in enumerate(plan, 1):
        stage['work_dir'] = osp.join(work_dir, stage['name'])
        stage['label'] = f'[{index}/{len(plan)}] {stage["name"]:<{width}}'
    return plan


def run_comparison(comparisons: Sequence[str] = tuple(COMPARISONS),
                   work_dir: Optional[str] = None, data_root: str = 'data', seeds: int = 3,
                   max_iters: Optional[int] = None, quick: bool = False,
                   verbose: bool = False, jobs: int = 1) -> Dict[str, Dict]:
    """Train (or reuse) the teachers and every row; ``{comparison: summary}``.

    Args:
        comparisons: keys of :data:`COMPARISONS`.
        work_dir: default ``work_dirs/quickstart/det`` (the det quickstart's).
        data_root: where the toy dataset is generated.
        seeds: seeds ``0..seeds-1`` for every row.
        max_iters: the rows' schedule (default: their configs'); teachers keep theirs.
        quick: smoke test, a few iterations on a few images (CI).
        verbose: mmengine's console output instead of progress lines.
        jobs: stages trained at once, one process each.
    """
    comparisons = _check(comparisons)
    if seeds < 1:
        raise ValueError(f'seeds must be >= 1, got {seeds}')
    work_dir = work_dir or osp.join('work_dirs', 'quickstart', TASK)
    print(f'[compare] toy data in {data_root} (generated unless complete)', flush=True)
    data = make_data(TASK, data_root, quick)
    rows = list(dict.fromkeys(r for c in comparisons for r in COMPARISONS[c]['rows']))
    results = run_plan(_plan(work_dir, rows, seeds, data, quick, max_iters, verbose),
                       _run_one, jobs)
    return {c: _finish(work_dir, c, results, seeds, max_iters, partial=False)
            for c in comparisons}


def collect_comparison(comparisons: Sequence[str] = tuple(COMPARISONS),
                       work_dir: Optional[str] = None, seeds: int = 3,
                       max_iters: Optional[int] = None) -> Dict[str, Dict]:
    """The summaries of the finished stages only (no training): partial tables."""
    comparisons = _check(comparisons)
    work_dir = work_dir or osp.join('work_dirs', 'quickstart', TASK)
    summaries = {}
    for comparison in comparisons:
        rows = COMPARISONS[comparison]['rows']
        results = read_finished(work_dir, _teacher_stages(rows) + [
            row_stage(r, s, max_iters) for s in range(seeds) for r in rows])
        if 'teacher' not in results:
            raise FileNotFoundError(f'no finished teacher in {work_dir}: nothing to report')
        summaries[comparison] = _finish(work_dir, comparison, results, seeds, max_iters,
                                        partial=True)
    return summaries


def summarize_comparison(comparison: str, results: Dict[str, Dict], seeds: int,
                         max_iters: Optional[int] = None, partial: bool = False) -> Dict:
    """Mean ± std per row (finished seeds only), gains paired by seed."""
    row_names = COMPARISONS[comparison]['rows']
    teachers = {t: dict(metric=results[t]['metric'], seed=results[t]['seed'],
                        params=results[t]['params'], train_time_s=results[t]['train_time_s'],
                        resumed=bool(results[t].get('resumed')))
                for t in _teacher_stages(row_names) if t in results}
    rows = {}
    for row in row_names:
        label, config, _ = ROWS[row]
        runs = {s: results[row_stage(row, s, max_iters)] for s in range(seeds)
                if row_stage(row, s, max_iters) in results}
        st = seed_stats(list(runs.values()))
        base = {s: results[row_stage('student', s, max_iters)]['metric'] for s in range(seeds)
                if row_stage('student', s, max_iters) in results}
        pairs = [runs[s]['metric'] - base[s] for s in runs if s in base]
        st['gain'] = statistics.mean(pairs) if pairs and row != 'student' else None
        st['wins'] = sum(p > 0 for p in pairs) if row != 'student' else None
        st['paired'] = len(pairs)
        rows[row] = dict(label=label, config=config, **st)
    student = rows['student']
    teacher = teachers.get('teacher', {}).get('metric')
    complete = all(r['n'] == seeds for r in rows.values())
    return dict(comparison=comparison, title=COMPARISONS[comparison]['title'],
                metric=TASKS[TASK]['metric_name'], seeds=seeds, max_iters=max_iters,
                partial=partial and not complete, teachers=teachers, rows=rows,
                teacher_beats_student=(teacher is not None and student['n'] > 0 and
                                       teacher > student['mean'] + student['std']),
                runs={k: v for k, v in results.items()
                      if k in teachers or any(k == row_stage(r, s, max_iters) for r in rows
                                              for s in range(seeds))})


def _time(seconds: float, resumed: int) -> str:
    """A stage's train time; a resumed stage's counts its last part only."""
    text = f'{seconds:.0f} s'
    if resumed:
        text += (' (resumed: last part only)' if resumed is True else
                 f' ({resumed} resumed: last part only)')
    return text


def format_table(summary: Dict) -> str:
    """The summary as a Markdown table (as printed)."""
    metric = summary['metric']
    lines = []
    if summary['partial']:
        lines.append(f'PARTIAL: not every row has all {summary["seeds"]} seeds (n per row)')
    lines += [f'| model | params | {metric} (mean ± std) | per seed | vs student alone '
              '(paired; seeds better) | train time |', '|---|---|---|---|---|---|']
    for name, t in summary['teachers'].items():
        lines.append(f'| teacher `{name}` (seed {t["seed"]}) | {t["params"] / 1e6:.2f}M | '
                     f'{t["metric"]:.4f} | - | - | {_time(t["train_time_s"], t["resumed"])} |')
    for row in summary['rows'].values():
        if not row['n']:
            lines.append(f'| {row["label"]} | - | not run yet | - | - | - |')
            continue
        gain = '-' if row['gain'] is None else \
            f'{row["gain"]:+.4f} ({row["wins"]}/{row["paired"]})'
        seeds = ', '.join(f'{v:.4f}' for v in row['values'])
        lines.append(f'| {row["label"]} | {row["params"] / 1e6:.2f}M | {row["mean"]:.4f} ± '
                     f'{row["std"]:.4f} (n={row["n"]}) | {seeds} | {gain} | '
                     f'{_time(row["train_time_s"], row["resumed"])} |')
    if not summary['teacher_beats_student'] and summary['rows']['student']['n']:
        lines.append('\nThe teacher is NOT above the student alone by more than its spread.')
    return '\n'.join(lines) + '\n'


def plot_comparison(summary: Dict, path: str) -> None:
    """Bars (mean ± std) with each seed's point; the teachers as dashed lines."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = list(summary['rows'].values())
    fig, ax = plt.subplots(figsize=(7.2, 4.4))
    xs = range(len(rows))
    colors = ['tab:blue'] + ['tab:orange'] * (len(rows) - 1)
    ax.bar(xs, [r['mean'] if r['n'] else 0.0 for r in rows],
           yerr=[r['std'] if r['n'] else 0.0 for r in rows], capsize=4, color=colors,
           alpha=0.6)
    for x, row in zip(xs, rows):
        ax.scatter([x] * row['n'], row['values'], color='black', s=12, zorder=3,
                   label='one seed' if x == 0 else None)
    styles = iter(['--', ':', '-.'])
    for name, t in summary['teachers'].items():
        ax.axhline(t['metric'], color='gray', linestyle=next(styles, '--'),
                   label=f'{name} (seed {t["seed"]}): {t["metric"]:.3f}')
    values = [v for r in rows for v in r['values']] + [
        t['metric'] for t in summary['teachers'].values()]
    low, high = min(values), max(values)
    margin = max((high - low) * 0.3, 0.005)
    ax.set_ylim(max(low - margin, 0.0), high + margin)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([r['label'] for r in rows], rotation=15, ha='right', fontsize=8)
    ax.set_ylabel(f'val {summary["metric"]}')
    schedule = f', students {summary["max_iters"]} iterations' if summary.get('max_iters') \
        else ''
    ax.set_title(f'{summary["title"]} on toy COCO ({summary["seeds"]} seeds{schedule}'
                 + (', PARTIAL)' if summary['partial'] else ')'))
    ax.grid(axis='y', alpha=0.3)
    ax.legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    save_png(fig, path)


def _finish(work_dir: str, comparison: str, results: Dict, seeds: int,
            max_iters: Optional[int], partial: bool) -> Dict:
    summary = summarize_comparison(comparison, results, seeds, max_iters, partial=partial)
    table = format_table(summary)
    schedule = f' (students {max_iters} iterations)' if max_iters else ''
    print(f'\n{summary["title"]}{schedule}:\n{table}')
    out = osp.join(work_dir, 'compare')
    os.makedirs(out, exist_ok=True)
    base = osp.join(out, comparison + _tag(max_iters))
    atomic_write_json(summary, base + '.json')
    atomic_write_text(table, base + '.md')
    plot_comparison(summary, base + '.png')
    print(f'wrote {base}.json, .md and .png')
    return summary
