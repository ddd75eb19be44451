"""The quickstart: distil a student on the embedded toy data, in one call.

:func:`run_quickstart` generates the toy dataset if absent, trains the teacher
(or reuses it), trains the student alone and the student with CanKD from the
teacher (same schedule, same seeds), evaluates all three with the real metric
(COCO bbox mAP through pycocotools, or mIoU), prints a table and writes
``DIR/summary.json`` and ``DIR/val_curve.png`` (validation metric over
training, student alone vs distilled). ``tools/quickstart.py`` is its
command line.

Every stage runs in ``DIR/<stage>/`` and ends by writing ``result.json``
atomically. Run the same command again after an interruption: finished stages
are reused, an unfinished one resumes from its last complete checkpoint.
Models are evaluated as they are at the end of training (no best-checkpoint
selection, since the validation split is also the split reported).

The console shows one progress line per stage (iteration, ETA, loss, the last
validation metric); each stage's full mmengine log stays in its work dir
(``DIR/<stage>/<timestamp>/<timestamp>.log``, printed). ``verbose=True``
streams mmengine's own console output instead.
"""
import collections
import contextlib
import io
import json
import os
import os.path as osp
import re
import statistics
import sys
import time
from typing import Dict, List, Optional

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from cankd.engine.safety_defaults import apply_safety_defaults
from cankd.utils.data_check import build_checked_dataloaders
from cankd.utils.io import atomic_write_json, save_png
from cankd.utils.progress import ProgressLine

__all__ = ['run_quickstart', 'TASKS', 'QUICK']

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

TASKS = {
    'det': dict(
        teacher='configs/quickstart/retinanet_r18_toy-coco.py',
        student='configs/quickstart/retinanet_r18-w16_toy-coco.py',
        cankd='configs/quickstart/cankd_retinanet_r18-r18w16_toy-coco.py',
        metric='coco/bbox_mAP', metric_name='bbox mAP', data='toy_coco', data_kwargs={}),
    'seg': dict(
        teacher='configs/quickstart/fcn_r18_toy-cityscapes.py',
        student='configs/quickstart/fcn_r18-w8_toy-cityscapes.py',
        cankd='configs/quickstart/cankd_fcn_r18w32-r18w8_toy-cityscapes.py',
        metric='mIoU', metric_name='mIoU', data='toy_cityscapes',
        data_kwargs=dict(img_size=(128, 64))),
}
# --quick: a smoke run of the whole pipeline (CI), not a meaningful comparison.
QUICK = dict(max_iters=4, val_interval=2, num_train=8, num_val=4)


def make_data(task: str, root: str, quick: bool) -> str:
    from cankd.datasets import make_toy_cityscapes, make_toy_coco
    folder = osp.join(root, TASKS[task]['data'] + ('_quick' if quick else ''))
    sizes = dict(num_train=QUICK['num_train'], num_val=QUICK['num_val']) if quick else {}
    make = make_toy_coco if task == 'det' else make_toy_cityscapes
    make(folder, **TASKS[task]['data_kwargs'], **sizes)
    return folder


def stage_config(task: str, kind: str, work_dir: str, data_root: str, seed: int,
                 quick: bool = False, max_iters: Optional[int] = None,
                 teacher_ckpt: Optional[str] = None) -> Config:
    """The config of one stage (``kind``: teacher, student or cankd)."""
    cfg = Config.fromfile(osp.join(REPO, TASKS[task][kind]))
    if kind == 'cankd':
        cfg.model.teacher_ckpt = teacher_ckpt
    return prepare_stage(cfg, task, work_dir, data_root, seed, quick, max_iters)


def prepare_stage(cfg: Config, task: str, work_dir: str, data_root: str, seed: int,
                  quick: bool = False, max_iters: Optional[int] = None) -> Config:
    """``cfg`` set up as a stage: work dir, seed, data, schedule, resume, safety hooks."""
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    _point_at_data(cfg, task, data_root)
    max_iters = QUICK['max_iters'] if quick else max_iters
    if max_iters:
        val_interval = QUICK['val_interval'] if quick else max(max_iters // 5, 1)
        cfg.train_cfg.max_iters = max_iters
        cfg.train_cfg.val_interval = val_interval
        cfg.default_hooks.checkpoint.interval = val_interval
        _fit_schedulers(cfg.param_scheduler, max_iters)
    if quick:
        cfg.default_hooks.logger.interval = 1
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            cfg[loader].batch_size = 2
            cfg[loader].num_workers = 0
            cfg[loader].persistent_workers = False
    # mmengine's visualizer is a per-name singleton: without a name of its own,
    # a stage would log its scalars into the first stage's folder.
    cfg.visualizer.name = f'quickstart_{osp.basename(work_dir)}_{id(cfg)}'
    # Resume an interrupted run from its last complete checkpoint, exactly; stop
    # on a non-finite loss (what tools/train.py adds to every config).
    cfg.resume = osp.isfile(osp.join(work_dir, 'last_checkpoint'))
    apply_safety_defaults(cfg)
    return cfg


def _fit_schedulers(schedulers, max_iters: int) -> None:
    """Rescale the configs' LR schedules to a different number of iterations."""
    for scheduler in schedulers:
        end = scheduler.get('end', max_iters)
        if scheduler.get('type') == 'LinearLR':  # warm-up: keep it short
            scheduler.end = min(end, max(max_iters // 10, 1))
            continue
        scale = max_iters / end
        scheduler.end = max_iters
        if 'milestones' in scheduler:
            scheduler.milestones = [max(int(m * scale), 1) for m in scheduler.milestones]


def _point_at_data(cfg: Config, task: str, data_root: str) -> None:
    root = data_root.rstrip('/') + '/'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
    if task == 'det':
        for evaluator in ('val_evaluator', 'test_evaluator'):
            cfg[evaluator].ann_file = root + 'annotations/instances_val.json'


def _val_curve(work_dir: str, metric: str) -> List[List[float]]:
    """(iteration, metric) pairs from the LocalVisBackend scalars of the runs in work_dir."""
    curve = {}
    for run in sorted(os.listdir(work_dir)):
        scalars = osp.join(work_dir, run, 'vis_data', 'scalars.json')
        if not osp.isfile(scalars):
            continue
        with open(scalars) as f:
            for line in f:
                record = json.loads(line)
                if metric in record:
                    curve[int(record['step'])] = float(record[metric])
    return [[step, value] for step, value in sorted(curve.items())]


# mmengine's "Hooks will be executed in the following order" table: no clue to a failure
_HOOK_TABLE = re.compile(r'^(\([A-Z_ ]+\) \w+\s*| -+ *|\w+:)$')


class _ConsoleTail(io.TextIOBase):
    """Where a quiet stage's console output goes: not shown, its last lines
    kept for the error report if the stage fails (the log file has it all)."""

    def __init__(self, keep: int = 40) -> None:
        super().__init__()
        self.lines = collections.deque(maxlen=keep)
        self._partial = ''

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        lines = (self._partial + text).split('\n')
        self._partial = lines.pop()
        self.lines.extend(lines)
        return len(text)

    def tail(self) -> str:
        lines = list(self.lines) + ([self._partial] if self._partial else [])
        return '\n'.join(line for line in lines if not _HOOK_TABLE.match(line))


class _StageProgress(Hook):
    """Feeds a :class:`ProgressLine`: iteration, loss, the last validation metric."""
    priority = 'LOWEST'

    def __init__(self, progress: ProgressLine, metric: str, metric_name: str) -> None:
        self.progress, self.metric, self.metric_name = progress, metric, metric_name
        self.loss: Optional[float] = None
        self.value: Optional[float] = None

    def status(self, extra: str = '') -> str:
        parts = []
        if self.loss is not None:
            parts.append(f'loss {self.loss:.4g}')
        if self.value is not None:
            parts.append(f'{self.metric_name} {self.value:.4g}')
        if extra:
            parts.append(extra)
        return '  '.join(parts)

    def _show(self, extra: str = '') -> None:
        # a terminal line shows the phase at once; a log gets its tenths only
        self.progress.update(self.progress.done, self.status(extra),
                             force=self.progress.interactive)

    def before_train(self, runner) -> None:
        self.progress.restart(runner.iter)  # resumed: not 0
        self.progress.update(runner.iter, self.status())

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        loss = (outputs or {}).get('loss')
        if loss is not None:
            self.loss = float(loss)
        self.progress.update(runner.iter + 1, self.status())

    def before_val_epoch(self, runner) -> None:
        self._show('validating')

    def after_val_epoch(self, runner, metrics=None) -> None:
        if metrics and self.metric in metrics:
            self.value = float(metrics[self.metric])
        self._show()

    def before_test_epoch(self, runner) -> None:
        self._show('testing')


def _log_file(runner: Runner) -> str:
    return osp.join(runner.log_dir, f'{runner.timestamp}.log')


def run_stage(name: str, cfg: Config, metric: str, metric_name: str = '',
              verbose: bool = False, label: Optional[str] = None) -> Dict:
    """Train (or resume) then test one model; cached in work_dir/result.json.

    Quiet (default): mmengine's console output goes to the stage's log file
    only and one progress line is shown. ``verbose``: mmengine's stream.
    """
    result_path = osp.join(cfg.work_dir, 'result.json')
    if osp.isfile(result_path):
        with open(result_path) as f:
            result = json.load(f)
        check_cached_schedule(result, result_path, cfg.train_cfg.max_iters)
        print(f'[quickstart] {name}: reusing {result_path}', flush=True)
        return result
    print(f'[quickstart] {name}: training {cfg.train_cfg.max_iters} iterations '
          f'in {cfg.work_dir}' + (' (resuming)' if cfg.resume else ''), flush=True)
    # mmengine names the run's logger <config>_<timestamp>: two stages started in one
    # second would share one logger (and its console handler)
    if not cfg.get('experiment_name'):
        cfg.experiment_name = f'quickstart_{name}_{time.strftime("%Y%m%d_%H%M%S")}_{id(cfg):x}'
    if verbose:
        runner = Runner.from_cfg(cfg)
        build_checked_dataloaders(runner)
        start = time.perf_counter()
        runner.train()
        train_time = time.perf_counter() - start
        metrics = runner.test()
    else:
        metrics, runner, train_time = _quiet_train_test(
            name, cfg, metric, metric_name or metric, label or name)
    if metric not in metrics:
        # mmdet's CocoMetric reports nothing when a model detects nothing: mAP 0.
        print(f'[quickstart] {name}: no {metric} in {sorted(metrics)}; the model made no '
              'predictions, counted as 0')
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    student = getattr(model, 'student', model)
    checkpoint = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    result = dict(
        stage=name,
        metric=float(metrics.get(metric, 0.0)),
        metrics={k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))},
        params=sum(p.numel() for p in student.parameters()),
        max_iters=cfg.train_cfg.max_iters,
        train_time_s=round(train_time, 1),
        resumed=bool(cfg.resume),
        checkpoint=checkpoint,
        seed=cfg.randomness['seed'],
        val_curve=_val_curve(cfg.work_dir, metric),
        log_file=_log_file(runner))
    atomic_write_json(result, result_path)
    return result


def read_finished(work_dir: str, names) -> Dict[str, Dict]:
    """``{name: result}`` of the named stages that have finished (written
    their ``result.json``); the others are left out."""
    results = {}
    for name in names:
        path = osp.join(work_dir, name, 'result.json')
        if osp.isfile(path):
            with open(path) as f:
                results[name] = json.load(f)
    return results


def seed_stats(runs: List[Dict]) -> Dict:
    """Mean, sample std and the values of the runs' metric, with their seeds,
    mean train time, how many were resumed and the student's parameters."""
    values = [r['metric'] for r in runs]
    times = [r['train_time_s'] for r in runs]
    return dict(n=len(values), values=values, seeds=[r['seed'] for r in runs],
                mean=statistics.mean(values) if values else None,
                std=statistics.stdev(values) if len(values) > 1 else 0.0,
                train_time_s=statistics.mean(times) if times else None,
                resumed=sum(bool(r.get('resumed')) for r in runs),
                params=runs[0]['params'] if runs else None)


def check_cached_schedule(result: Dict, path: str, max_iters: int) -> None:
    """A cached stage must have the schedule asked for: reusing a run of
    another length would put it in a table as if it were this one."""
    cached = result.get('max_iters')
    if cached is None:  # results written before max_iters was recorded
        match = re.search(r'iter_(\d+)\.pth$', result.get('checkpoint', ''))
        cached = int(match.group(1)) if match else None
    if cached is not None and cached != max_iters:
        raise ValueError(
            f'{path} is a finished run of {cached} iterations, but {max_iters} were asked '
            'for: use another work dir, or remove that folder to train it again')


def _quiet_train_test(name: str, cfg: Config, metric: str, metric_name: str, label: str):
    """``runner.train()`` and ``runner.test()`` with the console captured
    (the stage's logger, prints and warnings) and one progress line shown."""
    console = sys.stdout
    sink = _ConsoleTail()
    progress = ProgressLine(cfg.train_cfg.max_iters, label, stream=console)
    runner = None
    try:
        # mmengine's logger binds its console handler to sys.stdout when the
        # runner creates it: to the sink, for this stage's whole life.
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            runner = Runner.from_cfg(cfg)
            build_checked_dataloaders(runner)  # an empty dataset: named
            hook = _StageProgress(progress, metric, metric_name)
            runner.register_hook(hook)
            start = time.perf_counter()
            runner.train()
            train_time = time.perf_counter() - start
            metrics = runner.test()
    except KeyboardInterrupt:
        progress.close(status='interrupted')
        raise
    except BaseException:
        progress.close(status='failed')
        tail = sink.tail().strip('\n')
        print(f'[quickstart] {name} failed' + (
            f'; the last lines of its console output:\n{tail}' if tail else ''),
            file=sys.stderr, flush=True)
        if runner is not None:
            print(f'[quickstart] full log: {_log_file(runner)}', file=sys.stderr, flush=True)
        raise
    value = metrics.get(metric)
    hook.value = float(value) if value is not None else hook.value
    progress.close(status=hook.status())
    print(f'{" " * len(label)} log: {_log_file(runner)}', file=console, flush=True)
    return metrics, runner, train_time


def summarize(task: str, results: Dict[str, Dict], seeds: int) -> Dict:
    metric = TASKS[task]['metric_name']
    teacher = results['teacher']['metric']
    student = [results[f'student_seed{s}']['metric'] for s in range(seeds)]
    distilled = [results[f'cankd_seed{s}']['metric'] for s in range(seeds)]

    def stats(values):
        return dict(mean=statistics.mean(values),
                    std=statistics.stdev(values) if len(values) > 1 else 0.0,
                    values=values)

    s, d = stats(student), stats(distilled)
    gap = teacher - s['mean']
    summary = dict(
        task=task, metric=metric, seeds=seeds, teacher=teacher, student=s, cankd=d,
        gain=d['mean'] - s['mean'],
        gap_closed=(d['mean'] - s['mean']) / gap if gap > 0 else None,
        teacher_beats_student=gap > 0,
        runs=results)
    rows = [('teacher', results['teacher'], f'{teacher:.4f}')]
    for label, key, st in (('student alone', 'student', s), ('student + CanKD', 'cankd', d)):
        spread = f' ± {st["std"]:.4f} (n={seeds})' if seeds > 1 else ''
        rows.append((label, results[f'{key}_seed0'], f'{st["mean"]:.4f}{spread}'))
    print(f'\n{"model":<18}{"params":>10}  {metric:<26}{"train time":>12}')
    for label, run, value in rows:
        time_s = statistics.mean(
            results[k]['train_time_s'] for k in results
            if k.split('_seed')[0] == run['stage'].split('_seed')[0])
        print(f'{label:<18}{run["params"] / 1e6:>9.2f}M  {value:<26}{time_s:>11.0f}s')
    gain = summary['gain']
    if gap <= 0:
        verdict = 'the teacher does not beat the student alone here: no gap to close'
    elif d['mean'] >= teacher:
        verdict = (f'the distilled student passes the teacher: CanKD gains {gain:+.4f} '
                   f'over a teacher-student gap of {gap:.4f}')
    else:
        verdict = (f'CanKD gains {gain:+.4f} and closes {summary["gap_closed"]:.0%} of the '
                   f'teacher-student gap of {gap:.4f}')
    if seeds == 1:
        verdict += '; one seed (--seeds 3 gives the spread)'
    print(f'\n{verdict} (student {s["mean"]:.4f} -> distilled {d["mean"]:.4f}, '
          f'teacher {teacher:.4f}).')
    return summary


def plot_curves(summary: Dict, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, label, color in (('student', 'student alone', 'tab:blue'),
                              ('cankd', 'student + CanKD', 'tab:orange')):
        for seed in range(summary['seeds']):
            curve = summary['runs'][f'{key}_seed{seed}']['val_curve']
            if curve:
                xs, ys = zip(*curve)
                ax.plot(xs, ys, color=color, marker='o', alpha=0.9 if seed == 0 else 0.5,
                        label=label if seed == 0 else None)
    ax.axhline(summary['teacher'], color='gray', linestyle='--', label='teacher (final)')
    ax.set_xlabel('iteration')
    ax.set_ylabel(f'validation {summary["metric"]}')
    ax.set_title(f'Quickstart ({summary["task"]}): {summary["seeds"]} seed(s)')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_png(fig, path)




def run_quickstart(task: str = 'seg', work_dir: Optional[str] = None, data_root: str = 'data',
                   seeds: int = 1, max_iters: Optional[int] = None, quick: bool = False,
                   verbose: bool = False) -> Dict:
    """Teacher, student alone and student with CanKD on the toy data; the summary.

    Args:
        task: ``'seg'`` (FCN on toy street scenes) or ``'det'`` (RetinaNet on
            toy shapes).
        work_dir: default ``work_dirs/quickstart/<task>``.
        data_root: where the toy dataset is generated.
        seeds: the two student runs use seeds ``0..seeds-1``.
        max_iters: override the configs' schedule (all three models).
        quick: smoke test, a few iterations on a few images (CI).
        verbose: mmengine's console output instead of one progress line per stage.

    Returns:
        The summary also written to ``work_dir/summary.json``.
    """
    if task not in TASKS:
        raise ValueError(f'task must be one of {sorted(TASKS)}, got {task!r}')
    if seeds < 1:
        raise ValueError(f'seeds must be >= 1, got {seeds}')
    work_dir = work_dir or osp.join('work_dirs', 'quickstart', task)
    print(f'[quickstart] toy data in {data_root} (generated unless complete)', flush=True)
    data = make_data(task, data_root, quick)
    metric, metric_name = TASKS[task]['metric'], TASKS[task]['metric_name']
    stages = 1 + 2 * seeds
    width = max(len(n) for n in ('teacher', f'student_seed{seeds - 1}', f'cankd_seed{seeds - 1}'))

    def stage(index: int, name: str, kind: str, seed: int, **kwargs) -> Dict:
        cfg = stage_config(task, kind, osp.join(work_dir, name), data, seed, quick=quick,
                           max_iters=max_iters, **kwargs)
        label = f'[{index}/{stages}] {name:<{width}}'
        return run_stage(name, cfg, metric, metric_name, verbose=verbose, label=label)

    results = {'teacher': stage(1, 'teacher', 'teacher', 0)}
    for seed in range(seeds):
        results[f'student_seed{seed}'] = stage(2 + 2 * seed, f'student_seed{seed}', 'student',
                                               seed)
        results[f'cankd_seed{seed}'] = stage(
            3 + 2 * seed, f'cankd_seed{seed}', 'cankd', seed,
            teacher_ckpt=results['teacher']['checkpoint'])
    summary = summarize(task, results, seeds)
    atomic_write_json(summary, osp.join(work_dir, 'summary.json'))
    plot_curves(summary, osp.join(work_dir, 'val_curve.png'))
    print(f'wrote {osp.join(work_dir, "summary.json")} and {osp.join(work_dir, "val_curve.png")}')
    return summary
