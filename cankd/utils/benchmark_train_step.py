"""Benchmark one distillation training iteration against its baselines.

For each distillation config (CanKD, arXiv 2511.21503, or any other
``SingleTeacherDistill`` / ``FpnTeacherDistill`` config), on one synthetic
batch of the size the config's pipeline produces, it times:

* A ``student``: ``student.train_step(batch, optim_wrapper)``, the student
  alone (preprocessing, forward, task loss, backward, optimizer step);
* B ``teacher+student``: A with the teacher's forward added after the
  preprocessing (eval mode, no grad; the call the algorithm makes:
  ``extract_feat`` for ``FpnTeacherDistill``, ``mode='tensor'`` otherwise);
* C ``distill``: ``algorithm.train_step(batch, optim_wrapper)`` (recorders,
  connectors, distill losses and their backward, the larger optimizer);
* the distill losses alone: forward + backward on random features of the
  shapes recorded in C (copies of the loss modules, in train mode).

Each mode has its own copy of the weights and its own optimizer (the config's
``optim_wrapper``). The modes run interleaved (A, B, C, losses, A, B, ...) so
that drift and busy spells of a shared machine hit them alike; reported is
the median wall time (and process CPU time, and GFLOP from torch's
``FlopCounterMode``). Each step is also split into phases (preprocess,
teacher, student, distill forward, backward, optimizer, other) by timing the
methods the step calls. C / B is the cost of distillation beyond running the
teacher; when it is above the target ratio (or when asked to) C and B are
profiled with ``torch.profiler`` and the operators that account for C - B are
listed. :func:`run_benchmark` writes ``train_step_benchmark.json`` and
``train_step_benchmark.png`` (through :func:`cankd.utils.io.save_png`).

The CLI is ``tools/analysis_tools/benchmark_train_step.py``. Example::

    python tools/analysis_tools/benchmark_train_step.py \\
        configs/quickstart/cankd_fcn_r18w32-r18w8_toy-cityscapes.py \\
        configs/quickstart/cankd_retinanet_r18-r18w16_toy-coco.py \\
        --out work_dirs/train_step_bench --batch-size 8
"""
import copy
import json
import logging
import os
import os.path as osp
import statistics
import time
from collections import defaultdict
from typing import Callable, Dict, List, Optional

import torch

from cankd.utils.benchmark_loss import cpu_model, load_avg
from cankd.utils.io import atomic_write_text, save_png

__all__ = ['QUICKSTART', 'DEFAULT_SIZES', 'MODES', 'LABELS', 'PHASES', 'PHASE_LABELS',
           'build_bench', 'PhaseClock', 'teacher_student_step', 'make_loss_step',
           'count_gflop', 'measure', 'profile_overhead', 'print_tables', 'plot',
           'run_benchmark']

QUICKSTART = ('configs/quickstart/cankd_fcn_r18w32-r18w8_toy-cityscapes.py',
              'configs/quickstart/cankd_retinanet_r18-r18w16_toy-coco.py')
# what the quickstart pipelines produce (H, W): toy COCO resized to 160x160,
# toy Cityscapes scenes of 128x64 (W x H)
DEFAULT_SIZES = dict(det=(160, 160), seg=(64, 128))
MODES = ('A', 'B', 'C')
LABELS = dict(A='student', B='teacher fwd + student', C='distillation',
              losses='distill losses alone')
PHASES = ('preprocess', 'teacher', 'student', 'distill', 'backward', 'optimizer', 'other')
PHASE_LABELS = dict(preprocess='data preprocessor', teacher='teacher forward',
                    student='student forward + task loss',
                    distill='connectors + distill losses forward', backward='backward',
                    optimizer='optimizer step + zero_grad', other='other')


# ----------------------------------------------------------------------------
# building
# ----------------------------------------------------------------------------
def _quiet_mmengine():
    """Silence mmengine's INFO logs (init_weights prints every parameter)."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    return lambda: logger.setLevel(level)


def _task(model: torch.nn.Module) -> str:
    try:
        from mmdet.models.detectors import BaseDetector
        if isinstance(model, BaseDetector):
            return 'det'
    except ImportError:
        pass
    try:
        from mmseg.models.segmentors import BaseSegmentor
        if isinstance(model, BaseSegmentor):
            return 'seg'
    except ImportError:
        pass
    raise ValueError(f'the student is a {type(model).__name__}: only mmdet detectors and mmseg '
                     'segmentors are supported (synthetic batches are made for those)')


def _num_classes(model: torch.nn.Module, task: str) -> int:
    for path in (('bbox_head',), ('roi_head', 'bbox_head'), ('decode_head',)):
        obj = model
        for name in path:
            obj = getattr(obj, name, None)
        if obj is not None and hasattr(obj, 'num_classes'):
            return int(obj.num_classes)
    return 3 if task == 'det' else 4


def _teacher_forward_fn(algorithm) -> Callable:
    """The teacher call the algorithm makes, as f(teacher, inputs, data_samples)."""
    from cankd.models.algorithms import FpnTeacherDistill
    if isinstance(algorithm, FpnTeacherDistill):
        return lambda teacher, inputs, samples: teacher.extract_feat(inputs)
    return lambda teacher, inputs, samples: teacher(inputs, samples, mode='tensor')


def build_bench(config: str, batch_size: int, img_size: Optional[List[int]]) -> dict:
    """The algorithm of ``config`` (no teacher checkpoint), copies of its
    student and teacher, one optimizer wrapper each, and a synthetic batch."""
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    import cankd  # noqa: F401  (registers the cankd modules)
    from cankd.models.algorithms import SingleTeacherDistill, build_submodel
    from cankd.registry import MODELS
    from cankd.testing import demo_det_batch, demo_seg_batch

    cfg = Config.fromfile(config)
    wrong = ValueError(f'{config}: model.type is {cfg.model.get("type")!r}; a distillation '
                       'config (SingleTeacherDistill, FpnTeacherDistill) is needed')
    if 'architecture' not in cfg.model or 'teacher' not in cfg.model:
        raise wrong
    cfg.model.teacher_ckpt = None  # offline: random teacher weights time the same
    for key in ('architecture', 'teacher'):
        if isinstance(cfg.model[key], dict) and cfg.model[key].get('pretrained'):
            cfg.model[key].pretrained = False
    init_default_scope(cfg.get('default_scope', 'cankd'))
    torch.manual_seed(0)
    restore = _quiet_mmengine()
    try:
        algorithm = MODELS.build(cfg.model)
        if not isinstance(algorithm, SingleTeacherDistill):
            raise wrong
        notes = []
        try:
            algorithm.init_weights()
        except Exception as exc:  # e.g. an ImageNet init_cfg that cannot be fetched offline
            notes.append(f'init_weights skipped ({type(exc).__name__}): default init')
        student = build_submodel(cfg.model.architecture)
        teacher = build_submodel(cfg.model.teacher)
    finally:
        restore()
    student.load_state_dict(algorithm.architecture.state_dict())
    teacher.load_state_dict(algorithm.teacher.state_dict())
    teacher.requires_grad_(False)
    teacher.eval()
    algorithm.train()
    student.train()
    # A and B update different copies: each mode keeps its own weights and momenta
    student_b = copy.deepcopy(student)

    optim_cfg = cfg.get('optim_wrapper') or dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
    task = _task(algorithm.architecture)
    size = tuple(img_size) if img_size else DEFAULT_SIZES[task]
    num_classes = _num_classes(algorithm.architecture, task)
    make = demo_det_batch if task == 'det' else demo_seg_batch
    batch = make(batch_size, size, num_classes)
    # what the network sees: a preprocessor may pad further (mmseg's size=crop_size)
    input_shape = list(algorithm.data_preprocessor(copy.deepcopy(batch), True)['inputs'].shape)
    return dict(
        config=config, cfg=cfg, task=task, size=size, input_shape=input_shape,
        num_classes=num_classes,
        algorithm=algorithm, student=student, student_b=student_b, teacher=teacher,
        teacher_forward=_teacher_forward_fn(algorithm), batch=batch, notes=notes,
        optim_cfg=optim_cfg,
        wrappers={m: build_optim_wrapper(model, copy.deepcopy(optim_cfg))
                  for m, model in (('A', student), ('B', student_b), ('C', algorithm))})


# ----------------------------------------------------------------------------
# steps and phase timing
# ----------------------------------------------------------------------------
class PhaseClock:
    """Adds the wall and process CPU time of chosen calls to named phases.

    ``wrap`` replaces a bound method by a timed one on that instance only
    (``nn.Module.__call__`` looks ``forward`` up on the instance first).
    """

    def __init__(self) -> None:
        self.wall: Dict[str, float] = defaultdict(float)
        self.cpu: Dict[str, float] = defaultdict(float)

    def timed(self, fn: Callable, phase: str) -> Callable:
        def timed_fn(*args, **kwargs):
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.wall[phase] += time.perf_counter() - wall
                self.cpu[phase] += time.process_time() - cpu

        return timed_fn

    def wrap(self, obj, attr: str, phase: str) -> None:
        setattr(obj, attr, self.timed(getattr(obj, attr), phase))

    def take(self, wall_s: float, cpu_s: float = 0.0):
        """(wall, CPU) phases of the step that just ended, in ms; ``other`` is
        the rest of the step's total."""
        out = []
        for acc, total in ((self.wall, wall_s), (self.cpu, cpu_s)):
            split = {p: acc.get(p, 0.0) * 1e3 for p in PHASES if p != 'other'}
            split['other'] = max(total * 1e3 - sum(split.values()), 0.0)
            out.append(split)
        self.wall, self.cpu = defaultdict(float), defaultdict(float)
        return tuple(out)


def _instrument(bench: dict, clock: PhaseClock) -> None:
    alg = bench['algorithm']
    for mode, model in (('A', bench['student']), ('B', bench['student_b']), ('C', alg)):
        clock.wrap(model.data_preprocessor, 'forward', 'preprocess')
        wrapper = bench['wrappers'][mode]
        clock.wrap(wrapper, 'backward', 'backward')
        clock.wrap(wrapper, 'step', 'optimizer')
        clock.wrap(wrapper, 'zero_grad', 'optimizer')
    for model in (bench['student'], bench['student_b'], alg.architecture):
        clock.wrap(model, 'forward', 'student')
    clock.wrap(alg, 'teacher_forward', 'teacher')
    clock.wrap(alg.distiller, 'compute_distill_losses', 'distill')
    bench['timed_teacher_forward'] = clock.timed(bench['teacher_forward'], 'teacher')


def teacher_student_step(student, teacher, teacher_forward, batch, optim_wrapper) -> dict:
    """``BaseModel.train_step`` of the student with the teacher's forward
    (no grad) between the preprocessing and the student's forward, in the
    order the distillation step runs them."""
    with optim_wrapper.optim_context(student):
        data = student.data_preprocessor(batch, True)
        with torch.no_grad():
            teacher_forward(teacher, data['inputs'], data['data_samples'])
        losses = student._run_forward(data, mode='loss')
    parsed, log_vars = student.parse_losses(losses)
    optim_wrapper.update_params(parsed)
    return log_vars


def _record_loss_inputs(algorithm) -> Dict[str, dict]:
    """Forward-pre-hooks that keep what each distill loss is called with."""
    seen: Dict[str, dict] = {}
    handles = []
    for name, loss in algorithm.distiller.distill_losses.items():
        def hook(module, args, kwargs, name=name):
            seen[name] = dict(kwargs)
        handles.append(loss.register_forward_pre_hook(hook, with_kwargs=True))
    seen['_handles'] = handles
    return seen


def make_loss_step(algorithm, recorded: Dict[str, dict]):
    """Forward + backward of copies of the distill losses on random features
    of the recorded shapes; student-side features get gradients."""
    distiller = algorithm.distiller
    gen = torch.Generator().manual_seed(0)
    items, shapes = [], {}
    for name, kwargs in recorded.items():
        loss = copy.deepcopy(distiller.distill_losses[name]).train()
        mapping = distiller.loss_forward_mappings[name]
        inputs, grads = {}, []
        for arg, value in kwargs.items():
            if not isinstance(value, torch.Tensor):
                inputs[arg] = value  # e.g. data_samples (FGD)
                continue
            x = torch.randn(value.shape, generator=gen, dtype=value.dtype)
            if mapping.get(arg, {}).get('from_student', False):
                x.requires_grad_()
                grads.append(x)
            inputs[arg] = x
            shapes[f'{name}.{arg}'] = list(value.shape)
        items.append((loss, inputs, grads))

    def step():
        total = 0
        for loss, inputs, grads in items:
            loss.zero_grad(set_to_none=True)
            for x in grads:
                x.grad = None
            total = total + loss(**inputs)
        total.backward()

    return step, shapes


def count_gflop(steps: Dict[str, Callable]) -> Dict[str, float]:
    """GFLOP of one call of each step (torch's FlopCounterMode: matmuls and
    convolutions, forward and backward; 1 multiply-add = 2 FLOP)."""
    from torch.utils.flop_counter import FlopCounterMode
    out = {}
    for mode, fn in steps.items():
        with FlopCounterMode(display=False) as counter:
            fn()
        out[mode] = counter.get_total_flops() / 1e9
    return out


def measure(bench: dict, repeats: int, warmup: int, progress=print) -> dict:
    """Median times of A, B, C and the losses alone, interleaved."""
    clock = PhaseClock()
    _instrument(bench, clock)
    alg, batch, w = bench['algorithm'], bench['batch'], bench['wrappers']
    steps = dict(
        A=lambda: bench['student'].train_step(batch, w['A']),
        B=lambda: teacher_student_step(bench['student_b'], bench['teacher'],
                                       bench['timed_teacher_forward'], batch, w['B']),
        C=lambda: alg.train_step(batch, w['C']))
    # one untimed C step records what the distill losses are called with
    recorded = _record_loss_inputs(alg)
    steps['C']()
    for handle in recorded.pop('_handles'):
        handle.remove()
    steps['losses'], shapes = make_loss_step(alg, recorded)
    del recorded  # it holds the step's features and their graph
    clock.take(0.0)

    order = (*MODES, 'losses')
    times = {m: [] for m in order}
    cpu_times = {m: [] for m in order}  # all threads of this process; less hit by others
    phases = {m: [] for m in MODES}
    for r in range(warmup + repeats):
        # each round starts one mode later (A B C L, B C L A, ...): no mode
        # always runs after the same one
        for mode in order[r % len(order):] + order[:r % len(order)]:
            cpu_start, start = time.process_time(), time.perf_counter()
            steps[mode]()
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu_start
            split = clock.take(elapsed, cpu)
            if r >= warmup:
                times[mode].append(elapsed * 1e3)
                cpu_times[mode].append(cpu * 1e3)
                if mode in phases:
                    phases[mode].append(split)
        progress(f'  round {r + 1}/{warmup + repeats}' + (' (warm-up)' if r < warmup else '') +
                 ': ' + ', '.join(f'{m} {t[-1]:.0f} ms' for m, t in times.items() if t))
    gflop = count_gflop(steps)
    out = {}
    for mode, ts in times.items():
        rec = dict(label=LABELS[mode], time_ms=statistics.median(ts), min_ms=min(ts),
                   times_ms=[round(t, 3) for t in ts],
                   cpu_ms=statistics.median(cpu_times[mode]), gflop=gflop[mode])
        if mode in phases:
            for i, key in enumerate(('phases_ms', 'phases_cpu_ms')):
                rec[key] = {p: statistics.median(s[i][p] for s in phases[mode]) for p in PHASES}
        out[mode] = rec
    return dict(modes={m: out[m] for m in MODES}, distill_losses=out['losses'],
                loss_input_shapes=shapes)


# ----------------------------------------------------------------------------
# profiling
# ----------------------------------------------------------------------------
def _op_self_ms(fn: Callable, steps: int) -> Dict[str, float]:
    """Self CPU time per operator (ms per step) over ``steps`` calls of fn."""
    from torch.profiler import ProfilerActivity, profile
    saved = os.dup(2)  # kineto prints start/stop lines on stderr
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                fn()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return {e.key: e.self_cpu_time_total / 1e3 / steps for e in prof.key_averages()}


def profile_overhead(bench: dict, steps: int, top: int = 15) -> dict:
    """Operators whose self time grows most from B to C (ms per step)."""
    alg, batch, w = bench['algorithm'], bench['batch'], bench['wrappers']
    b = _op_self_ms(lambda: teacher_student_step(
        bench['student_b'], bench['teacher'], bench['teacher_forward'], batch, w['B']), steps)
    c = _op_self_ms(lambda: alg.train_step(batch, w['C']), steps)
    diff = {k: c.get(k, 0.0) - b.get(k, 0.0) for k in set(b) | set(c)}
    ranked = sorted(diff.items(), key=lambda kv: -kv[1])[:top]
    return dict(steps=steps, total_self_ms=dict(B=sum(b.values()), C=sum(c.values())),
                top_ops=[dict(op=k, c_minus_b_ms=round(v, 3), c_ms=round(c.get(k, 0.0), 3),
                              b_ms=round(b.get(k, 0.0), 3)) for k, v in ranked])


# ----------------------------------------------------------------------------
# reporting
# ----------------------------------------------------------------------------
def _write_json(path: str, data: dict) -> None:
    atomic_write_text(json.dumps(data, indent=1), path)


def print_tables(results: List[dict], target: float) -> None:
    head = (f"{'config':<44}{'A ms':>9}{'B ms':>9}{'C ms':>9}{'C/B':>7}{'C-B ms':>9}"
            f"{'C/A':>7}{'losses ms':>11}{'CPU C/B':>9}{'FLOP C/B':>10}  target")
    print(head)
    print('-' * len(head))
    for r in results:
        m = r['modes']
        print(f"{r['name'][:43]:<44}{m['A']['time_ms']:>9.1f}{m['B']['time_ms']:>9.1f}"
              f"{m['C']['time_ms']:>9.1f}{r['ratio_c_over_b']:>7.3f}{r['overhead_ms']:>9.1f}"
              f"{r['ratio_c_over_a']:>7.2f}{r['distill_losses']['time_ms']:>11.1f}"
              f"{r['cpu_ratio_c_over_b']:>9.3f}{r['gflop_ratio_c_over_b']:>10.3f}  "
              f"{'met' if r['target_met'] else 'MISSED'} (<= {target})")
    for r in results:
        print(f"\nphases of {r['name']} (median ms; C-B is the distillation's share)")
        print(f"{'phase':<12}{'A':>9}{'B':>9}{'C':>9}{'C-B':>9}{'CPU C-B':>9}")
        for p in PHASES:
            a, b, c = (r['modes'][m]['phases_ms'][p] for m in MODES)
            cpu_b, cpu_c = (r['modes'][m]['phases_cpu_ms'][p] for m in 'BC')
            print(f'{p:<12}{a:>9.1f}{b:>9.1f}{c:>9.1f}{c - b:>9.1f}{cpu_c - cpu_b:>9.1f}')
        if 'profile' in r:
            print('operators with the largest self-time growth from B to C (ms per step):')
            for op in r['profile']['top_ops'][:10]:
                print(f"  {op['c_minus_b_ms']:>8.2f}  {op['op']}")


def plot(results: List[dict], path: str, title: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    colors = dict(preprocess='#bbbbbb', teacher='#8c6bb1', student='#3182bd',
                  distill='#e6550d', backward='#fd8d3c', optimizer='#31a354', other='#636363')
    fig, axes = plt.subplots(1, len(results), figsize=(4.6 * len(results) + 2, 4.4),
                             squeeze=False)
    for ax, r in zip(axes[0], results):
        bottom = [0.0] * len(MODES)
        for p in PHASES:
            heights = [r['modes'][m]['phases_ms'][p] for m in MODES]
            ax.bar(range(len(MODES)), heights, bottom=bottom, color=colors[p],
                   label=PHASE_LABELS[p], width=0.6)
            bottom = [b + h for b, h in zip(bottom, heights)]
        for i, m in enumerate(MODES):  # the measured median over the stack of phase medians
            t = r['modes'][m]['time_ms']
            ax.plot([i - 0.34, i + 0.34], [t, t], color='k', lw=1)
            ax.text(i, t, f'{t:.0f} ms', ha='center', va='bottom', fontsize=8)
        ax.set_xticks(range(len(MODES)))
        ax.set_xticklabels([f"{m}\n{LABELS[m]}" for m in MODES], fontsize=8)
        ax.set_ylabel('wall time per training step (ms)')
        ax.set_ylim(0, max(r['modes'][m]['time_ms'] for m in MODES) * 1.15)
        ax.set_title(f"{r['name']}\n{r['task']} {r['size'][0]}x{r['size'][1]}, batch "
                     f"{r['batch_size']}: C/B = {r['ratio_c_over_b']:.3f}", fontsize=8)
        ax.grid(True, axis='y', alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc='center right', fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 0.78, 1))
    save_png(fig, path, dpi=110)


# ----------------------------------------------------------------------------
# the whole benchmark
# ----------------------------------------------------------------------------
def run_benchmark(configs: List[str], out: str, repeats: int = 10, warmup: int = 2,
                  batch_size: int = 8, img_size: Optional[List[int]] = None,
                  threads: Optional[int] = None, target: float = 1.15, profile: bool = False,
                  profile_steps: int = 3, command: str = '') -> dict:
    """Benchmark every config, print the tables, write
    ``train_step_benchmark.json`` and ``.png`` under ``out``; returns the JSON's
    content. ``command`` is recorded in its ``meta`` (the command line)."""
    if threads:
        torch.set_num_threads(threads)
    os.makedirs(out, exist_ok=True)
    meta = dict(command=command,
                date=time.strftime('%Y-%m-%d %H:%M:%S'), torch=torch.__version__,
                cpu=cpu_model(), threads=torch.get_num_threads(), repeats=repeats,
                warmup=warmup, batch_size=batch_size, target_ratio=target,
                load_avg_start=load_avg())
    results = []
    t0 = time.perf_counter()
    for config in configs:
        print(f'{config}: building', flush=True)
        bench = build_bench(config, batch_size, img_size)
        res = measure(bench, repeats, warmup,
                      progress=lambda s: print(s, flush=True))
        a, b, c = (res['modes'][m]['time_ms'] for m in MODES)
        optimizer = bench['optim_cfg'].get('optimizer', {})
        rec = dict(config=config, name=osp.splitext(osp.basename(config))[0],
                   task=bench['task'], algorithm=type(bench['algorithm']).__name__,
                   size=list(bench['size']), input_shape=bench['input_shape'],
                   batch_size=batch_size,
                   num_classes=bench['num_classes'],
                   optimizer=optimizer.get('type', '?') if isinstance(optimizer, dict) else '?',
                   **res, ratio_c_over_b=c / b, overhead_ms=c - b, ratio_c_over_a=c / a,
                   cpu_ratio_c_over_b=(res['modes']['C']['cpu_ms'] /
                                       res['modes']['B']['cpu_ms']),
                   gflop_ratio_c_over_b=(res['modes']['C']['gflop'] /
                                         res['modes']['B']['gflop']),
                   target_met=c / b <= target, notes=bench['notes'])
        if profile or not rec['target_met']:
            print(f'  profiling B and C ({profile_steps} steps each)', flush=True)
            rec['profile'] = profile_overhead(bench, profile_steps)
        results.append(rec)
    meta['wall_s'] = round(time.perf_counter() - t0, 1)
    meta['load_avg_end'] = load_avg()
    data = dict(meta=meta, results=results)
    _write_json(osp.join(out, 'train_step_benchmark.json'), data)
    print()
    print_tables(results, target)
    title = (f"one training step, {meta['cpu']}, threads={meta['threads']}, "
             f"load avg {meta['load_avg_start']} -> {meta['load_avg_end']}")
    plot(results, osp.join(out, 'train_step_benchmark.png'), title)
    print(f"\nwrote {out}/train_step_benchmark.json and .png ({meta['wall_s']:.0f} s); "
          f"load average {meta['load_avg_start']} -> {meta['load_avg_end']}")
    return data
