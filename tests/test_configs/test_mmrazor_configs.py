"""mmrazor's 12 dense-prediction distillation configs run in cankd with only
the scope changed (tests/fixtures/mmrazor_configs, see its README).

Each config is parsed as it is (mmdet 2.x names in ``cfg_path`` resolved),
its model built, and one training step (data preprocessor, teacher, student
and distill losses, backward, SGD step) run on a tiny batch. The test
changes only what must change offline, through overrides: no checkpoint
download (``teacher_ckpt=None``, ``pretrained=False``; that ``pretrained=True``
finds its model-zoo weights is checked without downloading) and a small
input (mmseg's data preprocessor pads to it, not to 512 x 1024). Teachers
with a 101-layer ResNet/ResNeXt get 50 layers and the Swin teacher one block
per stage (same channels, so every recorder, connector and loss is the
config's): the full models take minutes per step on a shared 2-core CPU.

All 12 build. Without ``-m slow`` a representative subset takes the step
(see ``STEP_FAST``); the others step in the slow run.
"""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope

from cankd.registry import HOOKS, LOOPS, MODELS
from cankd.testing.tiny_models import demo_det_batch, demo_seg_batch
from cankd.utils.package_config import LegacyConfigNameWarning, resolve_package_cfg_path

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FIXTURES = osp.join(ROOT, 'tests', 'fixtures', 'mmrazor_configs')
CONFIGS = sorted(osp.relpath(p, FIXTURES)
                 for p in glob.glob(osp.join(FIXTURES, '**', '*.py'), recursive=True))
# One of each: mmdet 2.x cfg_path names + FpnTeacherDistill (CWD Faster R-CNN),
# connectors with tuple outputs + SingleTeacherDistill + pretrained=True
# (FBKD), an inline `_base_.model` student with init_cfg (MGD), segmentation
# (CWD PSPNet), a Swin Mask R-CNN teacher on coco_instance (PKD).
STEP_FAST = {
    'mmdet/cwd/cwd_fpn_frcnn_r101_frcnn_r50_1x_coco.py',
    'mmdet/fbkd/fbkd_fpn_faster-rcnn_r101_faster-rcnn_r50_1x_coco.py',
    'mmdet/mgd/mgd_fpn_retina_x101_retina_r50_2x_coco.py',
    'mmseg/cwd/cwd_logits_pspnet_r101-d8_pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py',
    'mmdet/pkd/pkd_fpn_mask-rcnn_swin_retina_r50_2x_coco.py',
}
# FBKD's max-pool stride 8 on P2, RepPoints' P7: 64 px leaves nothing.
INPUT_SIZE = {'fbkd': 128, 'reppoints': 128}


def _load(name: str) -> Config:
    return Config.fromfile(osp.join(FIXTURES, name))


def _model_cfg(sub: dict) -> dict:
    """The model config a teacher/student entry builds (cfg_path resolved)."""
    if 'cfg_path' in sub:
        return get_config(resolve_package_cfg_path(sub['cfg_path'])).model
    return sub


def _override(sub: dict, key: str, **values) -> None:
    """Merge ``values`` into ``sub[key]`` (ConfigDict.setdefault returns a copy)."""
    sub[key] = dict(sub.get(key) or {}, **values)


def _shrink_teacher(teacher: dict) -> None:
    backbone = _model_cfg(teacher)['backbone']
    kind = backbone['type'].split('.')[-1]
    if kind.startswith(('ResNet', 'ResNeXt')) and backbone.get('depth', 0) > 50:
        _override(teacher, 'backbone', depth=50)
    elif kind.startswith('Swin'):
        _override(teacher, 'backbone', depths=[1, 1, 1, 1])


def _offline(cfg: Config, name: str, shrink: bool = True) -> dict:
    model = copy.deepcopy(cfg.model)
    model['teacher_ckpt'] = None
    for key in ('architecture', 'teacher'):
        if model[key].get('pretrained'):
            model[key]['pretrained'] = False
    if shrink:
        _shrink_teacher(model['teacher'])
        if 'size' in _model_cfg(model['architecture']).get('data_preprocessor', {}):
            # mmseg pads every training batch to the crop size (512 x 1024)
            size = (_input_size(name),) * 2
            for key in ('architecture', 'teacher'):
                _override(model[key], 'data_preprocessor', size=size)
    return model


def _build(cfg: Config, name: str, shrink: bool = True):
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(_offline(cfg, name, shrink))


def test_all_twelve_found_and_only_the_scope_changed():
    assert len(CONFIGS) == 12, CONFIGS
    for name in CONFIGS:
        with open(osp.join(FIXTURES, name)) as f:
            code = [line.split('#')[0] for line in f]
        assert not any('mmrazor' in line for line in code), name


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds(name):
    cfg = _load(name)
    assert cfg.model.type in ('SingleTeacherDistill', 'FpnTeacherDistill')
    assert cfg.model._scope_ == 'cankd'
    assert LOOPS.get(cfg.val_cfg.type) is not None
    for key in ('architecture', 'teacher'):
        sub = cfg.model[key]
        if sub.get('pretrained'):  # the model-zoo weights are found (not fetched)
            path = resolve_package_cfg_path(sub['cfg_path'])
            assert get_config(path, pretrained=True).model_path.startswith('https://')
    hook = cfg.get('default_hooks', {}).get('visualization')
    if hook is not None and hook.get('_scope_') == 'cankd':
        assert HOOKS.get(hook['type']) is not None
    model = _build(cfg, name)
    assert model.distiller.distill_losses
    assert sorted(model.distiller.loss_forward_mappings) == sorted(
        model.distiller.distill_losses)


def _input_size(name: str) -> int:
    return next((s for key, s in INPUT_SIZE.items() if key in name), 64)


def _batch(name: str):
    size = _input_size(name)
    if name.startswith('mmseg'):
        return demo_seg_batch(batch_size=2, size=(size, size), num_classes=19)
    return demo_det_batch(batch_size=2, size=(size, size), num_classes=80)


@pytest.mark.parametrize('name', [
    pytest.param(n, marks=() if n in STEP_FAST else pytest.mark.slow) for n in CONFIGS])
def test_config_takes_a_training_step(name):
    torch.manual_seed(0)
    cfg = _load(name)
    model = _build(cfg, name)
    model.train()
    student = {k: v.detach().clone() for k, v in model.student.named_parameters()}
    teacher = {k: v.detach().clone() for k, v in model.teacher.named_parameters()}
    optim = OptimWrapper(torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.01))
    log_vars = model.train_step(_batch(name), optim)
    distill = [k for k in log_vars if k.startswith('distill.')]
    assert sorted(distill) == sorted(f'distill.{k}' for k in model.distiller.distill_losses)
    assert any(k.startswith('student.') for k in log_vars)
    assert all(torch.isfinite(torch.as_tensor(v)).all() for v in log_vars.values()), log_vars
    changed = [k for k, v in model.student.named_parameters() if not torch.equal(v, student[k])]
    assert changed, 'the step left the student unchanged'
    assert all(torch.equal(v, teacher[k]) for k, v in model.teacher.named_parameters())


def test_legacy_cfg_path_resolves_with_a_warning():
    """mmrazor's CWD Faster R-CNN names mmdet 2.x configs in cfg_path."""
    cfg = _load('mmdet/cwd/cwd_fpn_frcnn_r101_frcnn_r50_1x_coco.py')
    assert cfg.model.architecture.cfg_path == 'mmdet::faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py'
    with pytest.warns(LegacyConfigNameWarning, match='faster-rcnn_r50_fpn_1x_coco.py'):
        assert resolve_package_cfg_path(cfg.model.architecture.cfg_path) == \
            'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
