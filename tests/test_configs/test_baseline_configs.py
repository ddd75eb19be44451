"""Baseline configs (FitNets, CWD, PKD, MGD, FGD, ACAM-KD): method-specific wiring.

tests/test_configs/test_configs_build.py already builds every config; here each
baseline config is checked for what makes it that method (loss type, count and
hyper-parameters, connectors, recorded modules, FPN levels), for being the
CanKD config of the same pair with only the distiller swapped, and the
quickstart variants run one training step.
"""
import copy
import math
import os.path as osp
from typing import NamedTuple, Optional, Tuple

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from cankd.registry import MODELS
from cankd.testing import demo_det_batch, demo_seg_batch

DET = 'configs/{d}/{m}_retinanet_r101-r50_fpn_2xb2-2x_coco.py'
SEG = 'configs/{d}/{m}_deeplabv3_r101-mbv2_4xb2-80k_cityscapes-512x1024.py'
TOY = 'configs/quickstart/{m}_retinanet_r18-r18w16_toy-coco.py'
CANKD = {'det': DET.format(d='cankd', m='cankd'), 'seg': SEG.format(d='cankd', m='cankd'),
         'toy': TOY.format(m='cankd')}
NECK = ('neck', 'neck')
LAST_STAGE = ('backbone.layer7', 'backbone.layer4')  # MobileNetV2 320 ch, ResNet-101 2048 ch


class Case(NamedTuple):
    path: str
    kind: str                     # 'det', 'seg' or 'toy'
    loss: str                     # loss type
    num: int                      # number of losses (FPN levels, or 1)
    attrs: dict                   # loss attributes
    sources: Tuple[str, str]      # recorded module, student and teacher
    connector: Optional[Tuple[str, dict]] = None  # student-side connector type, attributes


def _fgd(s, t):
    return dict(student_channels=s, teacher_channels=t, temp=0.5, alpha_fgd=1e-3,
                beta_fgd=5e-4, gamma_fgd=5e-4, lambda_fgd=5e-6)


def _acam(s, t, masks):
    return dict(student_channels=s, teacher_channels=t, num_masks=masks, loss_weight=1.0,
                div_weight=1.0, query_from='teacher')


def _mgd_conn(s, t, lam):
    return ('MGDConnector', dict(student_channels=s, teacher_channels=t, lambda_mgd=lam,
                                 mask_on_channel=False))


LIFT = ('ConvModuleConnector', dict(in_channel=320, out_channel=2048))
TOY_LIFT = ('ConvModuleConnector', dict(in_channel=32, out_channel=64))  # toy student FPN 32 ch
CASES = [
    Case(DET.format(d='fitnets', m='fitnets'), 'det', 'L2Loss', 5,
         dict(loss_weight=10, normalize=True), NECK),
    Case(SEG.format(d='fitnets', m='fitnets'), 'seg', 'L2Loss', 1,
         dict(loss_weight=10, normalize=True), LAST_STAGE, LIFT),
    Case(TOY.format(m='fitnets'), 'toy', 'L2Loss', 3, dict(loss_weight=10, normalize=True),
         NECK, TOY_LIFT),
    Case(DET.format(d='cwd', m='cwd'), 'det', 'ChannelWiseDivergence', 5,
         dict(tau=1, loss_weight=10), NECK),
    Case(SEG.format(d='cwd', m='cwd'), 'seg', 'ChannelWiseDivergence', 1,
         dict(tau=1, loss_weight=5), ('decode_head.conv_seg', 'decode_head.conv_seg')),
    Case(TOY.format(m='cwd'), 'toy', 'ChannelWiseDivergence', 3, dict(tau=1, loss_weight=10),
         NECK, TOY_LIFT),
    Case(DET.format(d='pkd', m='pkd'), 'det', 'PKDLoss', 4, dict(loss_weight=6), NECK),
    Case(SEG.format(d='pkd', m='pkd'), 'seg', 'PKDLoss', 1, dict(loss_weight=6), LAST_STAGE,
         LIFT),
    Case(TOY.format(m='pkd'), 'toy', 'PKDLoss', 3, dict(loss_weight=6), NECK, TOY_LIFT),
    Case(DET.format(d='mgd', m='mgd'), 'det', 'MGDLoss', 5, dict(alpha_mgd=2e-5), NECK,
         _mgd_conn(256, 256, 0.65)),
    Case(SEG.format(d='mgd', m='mgd'), 'seg', 'MGDLoss', 1, dict(alpha_mgd=2e-5), LAST_STAGE,
         _mgd_conn(320, 2048, 0.75)),
    Case(TOY.format(m='mgd'), 'toy', 'MGDLoss', 3, dict(alpha_mgd=2e-5), NECK,
         _mgd_conn(32, 64, 0.65)),
    Case(DET.format(d='fgd', m='fgd'), 'det', 'FGDLoss', 5, _fgd(256, 256), NECK),
    Case(TOY.format(m='fgd'), 'toy', 'FGDLoss', 3, _fgd(32, 64), NECK),
    Case(DET.format(d='acam_kd', m='acam-kd'), 'det', 'ACAMKDLoss', 5, _acam(256, 256, 6), NECK),
    Case(SEG.format(d='acam_kd', m='acam-kd'), 'seg', 'ACAMKDLoss', 1, _acam(320, 2048, 19),
         LAST_STAGE),
    Case(TOY.format(m='acam-kd'), 'toy', 'ACAMKDLoss', 3, _acam(32, 64, 6), NECK),
]
IDS = [osp.basename(c.path)[:-3] for c in CASES]
FULL = [c for c in CASES if c.kind != 'toy']
TOYS = [c for c in CASES if c.kind == 'toy']


@pytest.fixture
def load(load_config):
    def _load(path: str) -> Config:
        cfg = load_config(path)
        cfg.model.teacher_ckpt = None  # building must never download
        return cfg
    return _load


def _assert_attrs(module, attrs: dict, what: str) -> None:
    for key, value in attrs.items():
        got = getattr(module, key)
        ok = got == pytest.approx(value) if isinstance(value, float) else got == value
        assert ok, f'{what}.{key} = {got!r}, expected {value!r}'


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_baseline_distiller_wiring(case: Case, load):
    cfg = load(case.path)
    # Same pair, data, schedule and algorithm as the CanKD config: only the distiller differs.
    reference = load(CANKD[case.kind]).to_dict()
    mine = cfg.to_dict()
    assert mine['model'].pop('distiller')['type'] == 'ConfigurableDistiller'
    reference['model'].pop('distiller')
    assert mine == reference
    # Segmentation logits (CWD) need the teacher's decode head: the full forward.
    assert cfg.model.type == ('SingleTeacherDistill' if case.kind == 'seg'
                              else 'FpnTeacherDistill')

    with torch.device('meta'):  # wiring only: no need to initialise weights
        distiller = MODELS.build(cfg.model.distiller)
    losses = distiller.distill_losses
    assert len(losses) == case.num
    for name, loss in losses.items():
        assert type(loss).__name__ == case.loss, name
        _assert_attrs(loss, case.attrs, name)
        # FGD reads the gt boxes from the batch; the others must not ask for them.
        assert distiller._wants_data_samples[name] == (case.loss == 'FGDLoss')

    for manager, source in zip((distiller.student_recorders, distiller.teacher_recorders),
                               case.sources):
        assert [(type(r).__name__, r.source) for r in manager.recorders.values()] == \
            [('ModuleOutputs', source)]

    levels, used_connectors = [], []
    for name, mapping in distiller.loss_forward_mappings.items():
        assert len(mapping) == 2, name
        s_spec, t_spec = (next(spec for spec in mapping.values()
                               if spec['from_student'] is side) for side in (True, False))
        assert s_spec.get('data_idx') == t_spec.get('data_idx'), name  # same level both sides
        levels.append(s_spec.get('data_idx'))
        assert 'connector' not in t_spec, f'{name}: the teacher feature is the target'
        if case.connector is not None:
            used_connectors.append(s_spec['connector'])
        else:
            assert 'connector' not in s_spec, name
    assert sorted(levels, key=str) == (list(range(case.num)) if case.num > 1 else [None])

    if case.connector is None:
        assert len(distiller.connectors) == 0
    else:
        # One connector per loss: MGD's generator is per level, never shared.
        assert sorted(used_connectors) == sorted(distiller.connectors)
        conn_type, conn_attrs = case.connector
        for name, connector in distiller.connectors.items():
            assert type(connector).__name__ == conn_type, name
            _assert_attrs(connector, conn_attrs, name)


def _snapshot(module: torch.nn.Module) -> dict:
    return copy.deepcopy(module.state_dict())


def _changed(module: torch.nn.Module, before: dict) -> bool:
    return any(not torch.equal(v, before[k]) for k, v in module.state_dict().items())


@pytest.mark.parametrize('case', TOYS, ids=[osp.basename(c.path)[:-3] for c in TOYS])
def test_quickstart_baseline_train_step(case: Case, load):
    torch.manual_seed(0)
    model = MODELS.build(load(case.path).model)
    model.train()
    teacher_before = _snapshot(model.teacher)
    student_before = _snapshot(model.student)
    distiller_before = _snapshot(model.distiller)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))

    log_vars = model.train_step(demo_det_batch(batch_size=2, size=(64, 64), num_classes=5),
                                optim)

    names = [f'distill.{name}' for name in sorted(model.distiller.distill_losses)]
    assert set(names) <= set(log_vars)
    for name in names:
        value = log_vars[name].detach().item()
        assert math.isfinite(value) and value > 0, f'{name} = {value}'
    assert {'student.loss_cls', 'student.loss_bbox'} <= set(log_vars)
    for key, value in model.teacher.state_dict().items():  # weights and BN statistics
        assert torch.equal(value, teacher_before[key]), f'teacher {key} changed'
    assert not any(p.requires_grad for p in model.teacher.parameters())
    assert _changed(model.student, student_before)
    # Learned parts of a method (MGD generators, FGD GcBlocks, ACAM-KD attention
    # and masks) train with the student.
    if len(distiller_before):
        assert _changed(model.distiller, distiller_before)


@pytest.mark.slow
@pytest.mark.parametrize('case', FULL, ids=[osp.basename(c.path)[:-3] for c in FULL])
def test_full_baseline_builds_and_computes_losses(case: Case, load):
    """The published-size models build offline and their recorded features
    fit the losses (channels, resolution, levels) on a tiny batch."""
    torch.manual_seed(0)
    model = MODELS.build(load(case.path).model)
    if case.kind == 'seg':
        model.data_preprocessor.size = (64, 64)  # not the 512 x 1024 crop
        batch = demo_seg_batch(batch_size=2, size=(64, 64), num_classes=19)
    else:
        # 256 px: P7 is 2 x 2, so CWD's spatial softmax is not trivially 1.
        batch = demo_det_batch(batch_size=2, size=(256, 256), num_classes=5)
    model.train()
    with torch.no_grad():
        data = model.data_preprocessor(batch, training=True)
        losses = model(**data, mode='loss')
    names = [f'distill.{name}' for name in sorted(model.distiller.distill_losses)]
    assert len(names) == case.num and set(names) <= set(losses)
    for name in names:
        assert torch.isfinite(losses[name]) and losses[name] > 0, name
