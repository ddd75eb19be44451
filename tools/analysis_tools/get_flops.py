"""Parameters and FLOPs of a distillation config's teacher, student and distiller.

    python tools/analysis_tools/get_flops.py CONFIG [--shape H W]

Prints one table: parameters (all / trainable) of the teacher, the student and
the distiller (each connector and each distill loss with parameters, e.g.
CanKD's theta/phi/g/W/BN), and the forward FLOPs of each part for one image of
``--shape`` (default: the test pipeline's Resize scale, e.g. 800 x 1333 for
COCO configs, rounded up to the pad divisor): the teacher as the algorithm
runs it in training (``FpnTeacherDistill``: backbone + neck) and in full, the
student in ``mode='tensor'``, the distill losses (connectors included) on the
recorded features. A plain mmdet/mmseg config gets one row.

FLOPs are counted by ``torch.utils.flop_counter`` (convolutions and matrix
products, 1 multiply-add = 2 FLOPs; element-wise ops, norms and pooling are
not counted). mmdet's and mmseg's own get_flops count 1 multiply-add as 1
"FLOP": compare their numbers with the GMACs column. Offline: the teacher
checkpoint is not loaded and no pretrained weights are fetched.
"""
import argparse
import os.path as osp
from typing import List, Optional

from mmengine.config import DictAction


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Parameters and FLOPs of the teacher, student and distiller of a config.')
    parser.add_argument('config', help='distillation or mmdet/mmseg config file')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input height and width (default: the test pipeline\'s '
                        'Resize scale, else 512 512)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    args = parser.parse_args(argv)
    if args.shape is not None and min(args.shape) < 1:
        parser.error(f'--shape must be two positive ints, got {args.shape}')
    return args


def _fmt_count(n: Optional[float], unit: float, digits: int = 2) -> str:
    return 'n/a' if n is None else f'{n / unit:.{digits}f}'


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    if not osp.isfile(args.config):  # before the heavy imports (torch, mmdet, mmseg)
        raise SystemExit(f'config file not found: {args.config}')

    import cankd  # noqa: F401  (safe checkpoint loading)
    from cankd.utils.model_inspect import (build_offline, count_flops, count_params,
                                           default_input_shape, dummy_batch, load_config,
                                           register_all)
    register_all()
    cfg = load_config(args.config, args.cfg_options)
    if args.shape is not None:
        shape, origin = tuple(args.shape), '--shape'
    else:
        shape, origin = default_input_shape(cfg)
    info = build_offline(cfg)
    model = info.model
    inputs, samples = dummy_batch(info, shape)
    problems = []

    def flops(label, run):
        try:
            return count_flops(run)
        except Exception as exc:  # noqa: BLE001 - one part failing keeps the rest
            problems.append(f'{label}: {type(exc).__name__}: {exc}')
            return None

    rows = []  # (part, params, trainable, flops); '' leaves a cell blank
    if info.distill:
        student, teacher, distiller = info.student, info.teacher, model.distiller
        run_teacher = lambda: model.teacher_forward(model.teacher_inputs(inputs), samples)  # noqa: E731
        trained = flops('teacher', run_teacher)
        full = flops('teacher (full)', lambda: teacher(inputs, samples, mode='tensor'))
        rows.append(('teacher', *count_params(teacher), trained))
        if full != trained:
            rows.append(("  full forward (mode='tensor')", '', '', full))
        rows.append(('student', *count_params(student),
                     flops('student', lambda: student(inputs, samples, mode='tensor'))))
        # Record the features once, then count the distill losses (connectors included).
        distill_flops = None
        try:
            with distiller.teacher_recorders:
                run_teacher()
            with distiller.student_recorders:
                student(inputs, samples, mode='tensor')
            distill_flops = flops('distiller',
                                  lambda: distiller.compute_distill_losses(samples))
        except Exception as exc:  # noqa: BLE001
            problems.append(f'distiller: {type(exc).__name__}: {exc}')
        finally:
            distiller.reset_records()
        rows.append(('distiller (connectors + losses)', *count_params(distiller),
                     distill_flops))
        for kind in ('connectors', 'distill_losses'):
            for name, module in getattr(distiller, kind).items():
                rows.append((f'  {kind}.{name} ({type(module).__name__})',
                             *count_params(module), ''))
    else:
        rows.append((f'model ({type(model).__name__})', *count_params(model),
                     flops('model', lambda: model(inputs, samples, mode='tensor'))))

    def cell(value, unit):
        return value if value == '' else _fmt_count(value, unit, 3)

    print(f'config: {args.config}')
    for note in info.notes:
        print(f'note: {note}')
    print(f'input: {"x".join(str(s) for s in inputs.shape)} ({origin} {shape[0]}x{shape[1]}, '
          'padded to the pad divisor)\n')
    header = ('part', 'params (M)', 'trainable (M)', 'GFLOPs', 'GMACs')
    table = [(part, cell(total, 1e6), cell(trainable, 1e6), cell(fl, 1e9),
              cell(fl if fl in ('', None) else fl / 2, 1e9))
             for part, total, trainable, fl in rows]
    widths = [max(len(r[i]) for r in table + [header]) for i in range(len(header))]
    for i, row in enumerate([header] + table):
        print('  '.join([row[0].ljust(widths[0])] +
                        [c.rjust(w) for c, w in zip(row[1:], widths[1:])]).rstrip())
        if i == 0:
            print('  '.join('-' * w for w in widths))
    print()
    if info.distill:
        print(f'teacher: forward as {type(model).__name__} runs it in training; student: '
              "mode='tensor'; distiller: connectors + distill losses on the recorded "
              'features (their FLOPs are in the distiller row).')
    print('FLOPs: torch.utils.flop_counter, convolutions and matrix products only, '
          '1 multiply-add = 2 FLOPs; GMACs = GFLOPs / 2 is what mmdet/mmseg get_flops '
          'call "FLOPs".')
    for problem in problems:
        print(f'not counted: {problem}')
    return dict(rows=rows, input_shape=tuple(inputs.shape), problems=problems)


if __name__ == '__main__':
    main()
