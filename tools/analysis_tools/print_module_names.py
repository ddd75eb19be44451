"""List the module names a recorder ``source`` can take, with output shapes.

    python tools/analysis_tools/print_module_names.py CONFIG [--student | --teacher]
        [--depth N] [--prefix NAME] [--shape H W] [--no-shapes]

For a distillation config it prints the student's and the teacher's
``named_modules()`` (``--student``/``--teacher`` for one), for a plain
mmdet/mmseg config the model's. The models run once on a zeros batch of
``--shape`` (default 256 x 256, rounded up to the pad divisor) with a forward
hook on every module, as a training step runs them: the student in
``mode='loss'`` (with empty ground truth), the teacher as the algorithm does
(``SingleTeacherDistill``: ``mode='tensor'``; ``FpnTeacherDistill``:
``extract_feat``, backbone + neck only). A plain config runs ``--mode``.
Output shapes are ``BxCxHxW``; a list output is one ``data_idx`` per item, a
module run n times is ``record_idx`` 0..n-1, ``-`` marks a module whose
forward hooks did not fire (not run, or called as ``.forward()``): a recorder
there records nothing.

Offline: the teacher checkpoint is not loaded (``teacher_ckpt=None``), no
pretrained weights are fetched, ``init_weights`` is not called.
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional

from mmengine.config import DictAction


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='List the module names (recorder sources) of a config\'s models.')
    parser.add_argument('config', help='distillation or mmdet/mmseg config file')
    side = parser.add_mutually_exclusive_group()
    side.add_argument('--student', action='store_true', help='only the student')
    side.add_argument('--teacher', action='store_true', help='only the teacher')
    parser.add_argument('--depth', type=int, default=2,
                        help='deepest level shown below --prefix (default 2: '
                        '"backbone.layer4"); 0 shows all')
    parser.add_argument('--prefix', default='',
                        help='only this module and its submodules, e.g. backbone.layer4')
    parser.add_argument('--shape', type=int, nargs=2, default=[256, 256], metavar=('H', 'W'),
                        help='input height and width of the dummy batch (default 256 256)')
    parser.add_argument('--mode', choices=['loss', 'tensor', 'extract_feat'], default='loss',
                        help='how a plain (non-distillation) model runs (default loss)')
    parser.add_argument('--no-shapes', action='store_true',
                        help='names and types only, no forward pass')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    args = parser.parse_args(argv)
    if args.depth < 0:
        parser.error(f'--depth must be >= 0, got {args.depth}')
    if min(args.shape) < 1:
        parser.error(f'--shape must be two positive ints, got {args.shape}')
    return args


def _recorded_sources(model, side: str) -> Dict[str, List[str]]:
    """source -> recorder names of the config's distiller, for one side."""
    manager = getattr(model.distiller, f'{side}_recorders')
    sources: Dict[str, List[str]] = {}
    for name, recorder in manager.recorders.items():
        sources.setdefault(recorder.source, []).append(name)
    return sources


def _shown(name: str, prefix: str, depth: int) -> bool:
    if prefix and not (name == prefix or name.startswith(prefix + '.')):
        return False
    level = name.count('.') - (prefix.count('.') + 1 if prefix else 0)
    return depth == 0 or level < depth


def format_table(root, calls: Optional[Dict[str, List[str]]], prefix: str, depth: int,
                 recorded: Dict[str, List[str]]) -> List[str]:
    """One line per module: indented dotted name, type, output shape(s) per call."""
    from torch.nn import ModuleDict, ModuleList
    rows = []
    for name, module in root.named_modules():
        if not name or not _shown(name, prefix, depth):
            continue
        indent = '  ' * (name.count('.') - (prefix.count('.') if prefix else 0))
        if calls is None:
            shapes = ''
        elif name not in calls:
            # A ModuleList/ModuleDict is never called itself; its items are.
            shapes = '(container)' if isinstance(module, (ModuleList, ModuleDict)) else '-'
        elif len(calls[name]) == 1:
            shapes = calls[name][0]
        else:
            shapes = f'{len(calls[name])} calls: ' + ' | '.join(calls[name])
        mark = ', '.join(recorded.get(name, []))
        rows.append((indent + name, type(module).__name__, shapes,
                     f'<- recorder {mark}' if mark else ''))
    if not rows:
        return [f'  (no module named {prefix!r} or below it)']
    header = ('module (recorder source)', 'type', 'output' if calls is not None else '', '')
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(2)]
    lines = []
    for row in [header] + rows:
        line = f'{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}'
        if row[3]:
            line += f'   {row[3]}'
        lines.append(line.rstrip())
    return lines


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if not osp.isfile(args.config):  # before the heavy imports (torch, mmdet, mmseg)
        raise SystemExit(f'config file not found: {args.config}')

    import cankd  # noqa: F401  (safe checkpoint loading)
    from cankd.utils.model_inspect import (build_offline, dummy_batch, load_config,
                                           register_all, trace_module_outputs)
    register_all()
    cfg = load_config(args.config, args.cfg_options)
    info = build_offline(cfg)
    model = info.model
    inputs, samples = dummy_batch(info, args.shape)

    def run_mode(module, mode):
        if mode == 'extract_feat':
            return lambda: module.extract_feat(inputs)
        return lambda: module(inputs, samples, mode=mode)

    # (title, module, [(run, how), fallback ...]): the first that runs is shown.
    parts = []
    tensor = (run_mode(info.student, 'tensor'), "mode='tensor' (mode='loss' failed: {err})")
    if info.distill:
        if not args.teacher:
            parts.append(('student', info.student, [
                (run_mode(info.student, 'loss'),
                 "mode='loss' as in training, no objects in the ground truth"), tensor]))
        if not args.student:
            parts.append(('teacher', info.teacher, [
                (lambda: model.teacher_forward(model.teacher_inputs(inputs), samples),
                 f'as {type(model).__name__} runs it in training')]))
    else:
        if args.teacher or args.student:
            print(f'note: {args.config} is not a distillation config; '
                  '--student/--teacher ignored')
        parts.append(('model', model, [
            (run_mode(model, args.mode),
             f'--mode {args.mode} (a student runs loss; a teacher tensor in '
             'SingleTeacherDistill, extract_feat in FpnTeacherDistill)')]))

    print(f'config: {args.config}')
    for note in info.notes:
        print(f'note: {note}')
    shape = 'x'.join(str(s) for s in inputs.shape)
    for title, module, attempts in parts:
        calls, forward, err = None, '', ''
        for run, how in attempts if not args.no_shapes else []:
            try:
                calls = trace_module_outputs(module, run)
                forward = f', forward on a {shape} zeros batch, {how.format(err=err)}'
                break
            except Exception as exc:  # noqa: BLE001 - try the next way, or names only
                err = f'{type(exc).__name__}: {exc}'
                forward = f', forward on a {shape} zeros batch failed ({err}); names only'
        recorded = _recorded_sources(model, title) if info.distill else {}
        print(f'\n== {title}: {type(module).__name__} ({type(module).__module__.split(".")[0]})'
              f'{forward}')
        for line in format_table(module, calls, args.prefix, args.depth, recorded):
            print(line)
    print('\nUse a name as ModuleOutputs/ModuleInputs `source`; for a list output add '
          'data_idx=i (its i-th item), for a module run n times record_idx=0..n-1; '
          '"-": no forward hook fired (not run, or run as .forward() directly, as mmdet/mmseg '
          'do with heads): a recorder there would record nothing. --depth 0 lists every '
          'module.')


if __name__ == '__main__':
    sys.exit(main())
