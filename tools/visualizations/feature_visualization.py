"""Draw the teacher and student features that each distill loss compares.

    python tools/visualizations/feature_visualization.py CONFIG CKPT IMAGE
        [--out OUT.png] [--recorders NAME ...] [--reduce mean|l2]

CONFIG is a distillation config, CKPT a checkpoint of it (``tools/train.py``
saves the teacher's weights in it too, under ``teacher.``; a checkpoint
without them needs ``--teacher-ckpt``). IMAGE goes through the config's test
transforms (annotations dropped) and the student's data preprocessor; the
teacher and student then run as in ``tools/test.py`` (eval mode) with the
distiller's recorders on. For every ``loss_forward_mappings`` entry one row of
heat maps: teacher feature, student feature (after its connector, if any) and
their absolute difference, each reduced over channels (``--reduce``: mean, or
L2 norm), cropped to the image (padding removed). Titles carry the loss value
on these features (n/a when the loss needs ground truth, as FGD does).
Connectors and losses run in eval mode; ``MGDConnector`` still draws a fresh
random mask. The PNG is written to a temporary file and renamed.
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional, Tuple

from mmengine.config import DictAction

TEACHER_PREFIX = 'teacher.'


def _heat(x, reduce: str):
    """C x H x W -> H x W: channel mean, or channel L2 norm."""
    from cankd.utils.feature_maps import channel_heat
    return channel_heat(x, reduce)


def draw(rows: List[Dict], image_rgb, out: str, reduce: str, valid_hw, padded_hw) -> None:
    """The PNG: drawn by :func:`cankd.utils.feature_maps.draw_rows`."""
    from cankd.utils.feature_maps import draw_rows
    draw_rows(rows, image_rgb, out, reduce, valid_hw, padded_hw)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Heat maps of the teacher/student features of each distill loss.')
    parser.add_argument('config', help='distillation config file')
    parser.add_argument('checkpoint', help='distillation checkpoint (.pth)')
    parser.add_argument('image', help='image file')
    parser.add_argument('--out', default='feature_vis.png', help='output PNG (default %(default)s)')
    parser.add_argument('--recorders', nargs='+', metavar='NAME',
                        help='only the losses fed by these recorders (student or teacher '
                        'recorder names of the distiller)')
    parser.add_argument('--reduce', choices=['mean', 'l2'], default='mean',
                        help='channel reduction of each feature map (default mean)')
    parser.add_argument('--teacher-ckpt',
                        help='teacher checkpoint, when CKPT holds no teacher.* weights')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args(argv)


def check_paths(args: argparse.Namespace) -> None:
    """Name a missing input before anything heavy (torch, mmdet, mmseg) is imported."""
    for path, what in ((args.config, 'config file'), (args.checkpoint, 'checkpoint'),
                       (args.image, 'image'), (args.teacher_ckpt, '--teacher-ckpt')):
        if path is not None and not osp.isfile(path):
            raise SystemExit(f'{what} not found: {path}')
    if not args.out.lower().endswith('.png'):
        raise SystemExit(f'--out must name a .png file, got {args.out}')


def load_weights(model, checkpoint: str, teacher_ckpt: Optional[str]) -> List[str]:
    """Load a distillation checkpoint into ``model`` (strictly, apart from the
    teacher when ``teacher_ckpt`` supplies it). Returns notes for the user."""
    from mmengine.runner import load_checkpoint

    from cankd.utils import safe_load
    ckpt = safe_load(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state:
        raise SystemExit(f'{checkpoint}: no state_dict in this file')
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    if not any(k.startswith('architecture.') for k in state):
        prefixes = sorted({k.split('.')[0] for k in state})
        raise SystemExit(f'{checkpoint}: no "architecture.*" (student) weights, top-level '
                         f'prefixes {prefixes}: not a distillation checkpoint of this config')
    notes = []
    has_teacher = any(k.startswith(TEACHER_PREFIX) for k in state)
    if teacher_ckpt:
        state = {k: v for k, v in state.items() if not k.startswith(TEACHER_PREFIX)}
    elif not has_teacher:
        raise SystemExit(f'{checkpoint} holds no teacher.* weights; give the teacher '
                         'checkpoint with --teacher-ckpt')
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shape mismatches
        detail = str(exc).split('\n')
        raise SystemExit(f'{checkpoint} does not match the config: '
                         + '; '.join(line.strip() for line in detail[1:4])) from None
    if teacher_ckpt:
        missing = [k for k in missing if not k.startswith(TEACHER_PREFIX)]
        load_checkpoint(model.teacher, teacher_ckpt, map_location='cpu', logger='silent')
        notes.append(f'teacher weights from {teacher_ckpt}')
    if missing:
        raise SystemExit(f'{checkpoint} does not match the config: {len(missing)} missing '
                         f'key(s), e.g. {missing[:5]}')
    if unexpected:
        notes.append(f'{len(unexpected)} checkpoint key(s) not in the model, ignored '
                     f'(e.g. {unexpected[:3]})')
    return notes


def prepare_image(cfg, info, image: str):
    """(inputs, data_samples) of ``image`` after the test transforms and the
    student's data preprocessor."""
    from mmengine.dataset import Compose, pseudo_collate
    from mmengine.registry import DefaultScope

    from cankd.utils.model_inspect import get_test_pipeline
    pipeline = [t for t in (get_test_pipeline(cfg) or [])
                if 'LoadAnnotations' not in str(t.get('type', ''))]
    if not pipeline:
        raise SystemExit('the config has no test pipeline (test_dataloader.dataset.pipeline '
                         'or test_pipeline) to load the image with')
    with DefaultScope.overwrite_default_scope(info.scope):
        transforms = Compose(pipeline)
        packed = transforms(dict(img_path=image, img_id=0))
    if packed is None:
        raise SystemExit(f'the test pipeline dropped {image}')
    data = info.model.data_preprocessor(pseudo_collate([packed]), False)
    return data['inputs'], data['data_samples']


def record(model, inputs, samples) -> None:
    """Teacher and student forward with the distiller's recorders on."""
    import torch
    distiller = model.distiller
    with torch.no_grad():
        with distiller.teacher_recorders:
            model.teacher_forward(model.teacher_inputs(inputs), samples)
        with distiller.student_recorders:
            model.student(inputs, samples, mode='tensor')


def collect_rows(model, samples, wanted: Optional[List[str]],
                 reduce: str) -> Tuple[List[Dict], List[str]]:
    """One dict per loss mapping (heat maps, titles, loss value), and the
    mappings that could not be drawn, with the reason."""
    import inspect

    import torch
    import torch.nn.functional as F
    distiller = model.distiller
    rows, skipped = [], []
    for name, mapping in distiller.loss_forward_mappings.items():
        if wanted and not {spec['recorder'] for spec in mapping.values()} & set(wanted):
            continue
        try:  # every argument once, connectors applied: what the loss receives
            kwargs = {arg: distiller.get_record(f'loss_forward_mappings.{name}.{arg}', spec)
                      for arg, spec in mapping.items()}
        except ValueError as exc:
            skipped.append(f'{name}: {exc}')
            continue
        feats, labels = {}, {}
        for arg, spec in mapping.items():
            side = 'student' if spec['from_student'] else 'teacher'
            feat = kwargs[arg]
            if side in feats or not isinstance(feat, torch.Tensor) or feat.dim() != 4:
                continue  # the first B x C x H x W input of each side is drawn
            feats[side] = feat[0].detach().float()
            labels[side] = spec['recorder'] + (
                f'[{spec["data_idx"]}]' if spec.get('data_idx') is not None else '') + (
                f' -> {spec["connector"]}' if spec.get('connector') else '')
        if len(feats) < 2:
            skipped.append(f'{name}: needs a B x C x H x W input from each side')
            continue
        loss_module = distiller.distill_losses[name]
        if 'data_samples' in inspect.signature(loss_module.forward).parameters:
            kwargs['data_samples'] = samples
        try:
            loss = float(loss_module(**kwargs))
        except Exception:  # noqa: BLE001 - e.g. FGD without ground-truth boxes: draw anyway
            loss = None
        rows.append(_row(name, feats, labels, reduce, loss, F))
    return rows, skipped


def _row(name, feats, labels, reduce, loss, F) -> Dict:
    t, s = feats['teacher'], feats['student']
    if s.shape[-2:] != t.shape[-2:]:
        s_resized = F.interpolate(s[None], size=t.shape[-2:], mode='bilinear',
                                  align_corners=False)[0]
    else:
        s_resized = s
    if s_resized.shape == t.shape:
        delta = t - s_resized
        diff = delta.abs().mean(0) if reduce == 'mean' else delta.norm(dim=0)
        diff_title = '|T - S|, ' + ('mean over C' if reduce == 'mean' else 'L2 over C')
    else:  # different channels and no connector: compare the reduced maps
        diff = (_heat(t, reduce) - _heat(s_resized, reduce)).abs()
        diff_title = f'|{reduce}(T) - {reduce}(S)| (channels differ)'
    if s.shape[-2:] != t.shape[-2:]:
        diff_title += ', S resized'
    shape = lambda x: 'x'.join(str(v) for v in x.shape)  # noqa: E731
    return dict(
        name=name, loss=loss,
        maps=[_heat(t, reduce), _heat(s, reduce), diff],
        titles=[f'teacher {labels["teacher"]}\n{shape(t)}',
                f'student {labels["student"]}\n{shape(s)}', diff_title],
        mean_abs_diff=float(diff.mean()))


def main(argv: Optional[List[str]] = None) -> List[Dict]:
    args = parse_args(argv)
    check_paths(args)

    import cankd  # noqa: F401  (safe checkpoint loading)
    import mmcv
    import torch

    from cankd.utils.model_inspect import build_offline, load_config, register_all
    register_all()
    cfg = load_config(args.config, args.cfg_options)
    info = build_offline(cfg)
    if not info.distill:
        raise SystemExit(f'{args.config} is not a distillation config (model.type='
                         f'{cfg.model.get("type")}): it needs architecture, teacher and '
                         'distiller')
    model = info.model
    if args.recorders:
        known = set(model.distiller.student_recorders.recorders) | set(
            model.distiller.teacher_recorders.recorders)
        unknown = sorted(set(args.recorders) - known)
        if unknown:
            raise SystemExit(f'--recorders: no recorder {unknown} in the distiller; '
                             f'valid: {sorted(known)}')
    notes = load_weights(model, args.checkpoint, args.teacher_ckpt)
    model.eval()
    inputs, samples = prepare_image(cfg, info, args.image)
    record(model, inputs, samples)
    with torch.no_grad():  # connectors and losses run here too
        rows, skipped = collect_rows(model, samples, args.recorders, args.reduce)
    model.distiller.reset_records()
    if not rows:
        raise SystemExit('nothing to draw: ' + ('; '.join(skipped) or 'no loss mapping left'))
    meta = samples[0].metainfo if samples else {}
    padded_hw = tuple(inputs.shape[-2:])
    valid_hw = tuple(meta.get('img_shape', padded_hw))[:2]
    draw(rows, mmcv.imread(args.image, channel_order='rgb'), args.out, args.reduce,
         valid_hw, padded_hw)
    for note in notes:
        print(f'note: {note}')
    for row in rows:
        loss = 'n/a' if row['loss'] is None else f'{row["loss"]:.4g}'
        print(f'{row["name"]}: loss {loss}, mean |T - S| map {row["mean_abs_diff"]:.4g}')
    for skip in skipped:
        print(f'skipped {skip}')
    print(f'wrote {args.out}')
    return rows


if __name__ == '__main__':
    main()
