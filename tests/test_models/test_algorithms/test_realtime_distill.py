"""Real-time students (RTMDet, YOLOX) under FpnTeacherDistill: toy-width
pairs built from mmdet 3.3's own configs (deepen/widen overrides), a few
training steps, EMA, batch augments, the YOLOX mode switch, export."""
import copy
from types import SimpleNamespace

import pytest
import torch
from mmengine.hooks import EMAHook
from mmengine.logging import MessageHub
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope

from cankd.engine.hooks import DistillYOLOXModeSwitchHook
from cankd.models.algorithms import build_submodel
from cankd.registry import MODELS
from cankd.testing import demo_det_batch
from cankd.utils.student_export import extract_student

RTMDET = 'mmdet::rtmdet/rtmdet_{}_8xb32-300e_coco.py'
YOLOX = 'mmdet::yolox/yolox_{}_8xb8-300e_coco.py'
# backbone stage outputs for out_indices (2, 3, 4) at widen_factor w: 256w, 512w, 1024w
S_WIDEN, T_WIDEN = 0.125, 0.25
S_CH, T_CH = 32, 64  # neck channels, student and teacher


def _overrides(widen: float, neck: int) -> dict:
    stages = [int(c * widen) for c in (256, 512, 1024)]
    return dict(
        backbone=dict(deepen_factor=0.167, widen_factor=widen, init_cfg=None),
        neck=dict(in_channels=stages, out_channels=neck, num_csp_blocks=1),
        bbox_head=dict(num_classes=3, in_channels=neck, feat_channels=neck))


def _distiller(levels: int = 3) -> dict:
    return dict(
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        connectors={f's_fpn{i}': dict(type='ConvModuleConnector', in_channel=S_CH,
                                      out_channel=T_CH, norm_cfg=dict(type='BN'), act_cfg=None)
                    for i in range(levels)},
        distill_losses={f'loss_cankd_fpn{i}': dict(type='CanKDLoss', in_channels=T_CH,
                                                   loss_weight=10) for i in range(levels)},
        loss_forward_mappings={f'loss_cankd_fpn{i}': dict(
            s_feature=dict(from_student=True, recorder='fpn', data_idx=i, connector=f's_fpn{i}'),
            t_feature=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(levels)})


def _pair(cfg_path: str, student: str, teacher: str, tmp_path):
    teacher_cfg = dict(cfg_path=cfg_path.format(teacher), **_overrides(T_WIDEN, T_CH))
    teacher_model = revert_sync_batchnorm(build_submodel(teacher_cfg))
    ckpt = tmp_path / 'teacher.pth'
    torch.save({'state_dict': teacher_model.state_dict(), 'meta': {}}, ckpt)
    student_cfg = dict(cfg_path=cfg_path.format(student), **_overrides(S_WIDEN, S_CH))
    model = MODELS.build(dict(type='FpnTeacherDistill', architecture=student_cfg,
                              teacher=teacher_cfg, teacher_ckpt=str(ckpt),
                              distiller=_distiller()))
    # what the Runner does without a distributed launcher (RTMDet uses SyncBN)
    return revert_sync_batchnorm(model), student_cfg


def _backbone_inputs(model):
    seen = {}
    for who, net in (('teacher', model.teacher), ('student', model.architecture)):
        net.backbone.register_forward_pre_hook(
            lambda m, args, who=who: seen.__setitem__(who, args[0].detach().clone()))
    return seen


@pytest.fixture(autouse=True)
def _iter_info():
    MessageHub.get_current_instance().update_info('iter', 0)


def test_rtmdet_pair_trains_with_ema_and_exports_to_mmdet(tmp_path):
    model, student_cfg = _pair(RTMDET, 's', 'l', tmp_path)
    # CSPNeXt-PAFPN: 3 levels, the neck's out_channels on each
    with torch.no_grad():
        feats = model.teacher.extract_feat(torch.zeros(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == [T_CH] * 3
    model.train()
    ema_hook = EMAHook(ema_type='ExpMomentumEMA', momentum=0.0002, update_buffers=True)
    with DefaultScope.overwrite_default_scope('mmdet'):  # the configs' default_scope
        ema_hook.before_run(SimpleNamespace(model=model))
    teacher_before = copy.deepcopy(model.teacher.state_dict())
    student_before = copy.deepcopy(model.architecture.state_dict())
    seen = _backbone_inputs(model)
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    for step in range(2):
        log_vars = model.train_step(demo_det_batch(seed=step), optim)
        assert torch.equal(seen['teacher'], seen['student'])  # the same batch
        ema_hook.ema_model.update_parameters(model)
    assert {'student.loss_cls', 'student.loss_bbox', 'distill.loss_cankd_fpn2'} <= set(log_vars)
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), f'teacher {key} changed'
    # EMA averages the whole algorithm: the frozen teacher's EMA is itself
    ema_state = ema_hook.ema_model.module.state_dict()
    for key, value in teacher_before.items():
        assert torch.equal(ema_state[f'teacher.{key}'], value), f'EMA teacher {key} changed'
    # the checkpoint's state_dict holds the EMA weights; export gives that student
    checkpoint = {'state_dict': model.state_dict(), 'meta': {}}
    ema_hook.before_save_checkpoint(None, checkpoint)
    student = extract_student(checkpoint)['state_dict']
    assert any(not torch.equal(v, student_before[k]) for k, v in student.items())
    for key, value in student.items():
        assert torch.equal(value, ema_state[f'architecture.{key}']), key
    plain = revert_sync_batchnorm(build_submodel(student_cfg))  # a plain mmdet RTMDet
    assert type(plain).__module__.startswith('mmdet.')
    plain.load_state_dict(student)  # strict: exactly the student


def test_yolox_teacher_sees_the_batch_augmented_batch(tmp_path):
    model, _ = _pair(YOLOX, 's', 'l', tmp_path)
    augments = model.data_preprocessor.batch_augments
    assert augments and type(augments[0]).__name__ == 'BatchSyncRandomResize'
    augments[0]._input_size = (96, 96)  # the size it would have drawn at an interval
    model.train()
    seen = _backbone_inputs(model)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    log_vars = model.train_step(demo_det_batch(size=(64, 64)), optim)
    assert seen['teacher'].shape[-2:] == (96, 96)
    assert torch.equal(seen['teacher'], seen['student'])
    assert 'distill.loss_cankd_fpn0' in log_vars


def test_yolox_mode_switch_hook_switches_the_student():
    model = SimpleNamespace(architecture=SimpleNamespace(bbox_head=SimpleNamespace(use_l1=False)),
                            teacher=SimpleNamespace(bbox_head=SimpleNamespace(use_l1=False)))
    dataset = SimpleNamespace(skipped=None)
    dataset.update_skip_type_keys = lambda keys: setattr(dataset, 'skipped', keys)
    runner = SimpleNamespace(model=model, epoch=0, max_epochs=20,
                             train_dataloader=SimpleNamespace(dataset=dataset),
                             logger=SimpleNamespace(info=lambda msg: None))
    hook = DistillYOLOXModeSwitchHook(num_last_epochs=15)
    hook.before_train_epoch(runner)
    assert not model.architecture.bbox_head.use_l1 and dataset.skipped is None
    runner.epoch = 5
    hook.before_train_epoch(runner)
    assert model.architecture.bbox_head.use_l1
    assert dataset.skipped == ('Mosaic', 'RandomAffine', 'MixUp')
    assert not model.teacher.bbox_head.use_l1
