"""CrossKDDistill on tiny mmdet GFL / RetinaNet / FCOS / ATSS pairs, wired by
the shipped configs' distillers: the teacher's remaining head layers receive
the student's (aligned) features, the teacher gets no gradient, the student
gets one through the cross path only; and LD through SingleTeacherDistill
equals mmdet's LDHead term."""
import copy
import functools

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from cankd.models.algorithms import CrossKDDistill, SingleTeacherDistill
from cankd.testing import demo_det_batch, tiny_retinanet

GFL_CFG = 'configs/crosskd/crosskd_gfl_r101-r50_fpn_1x_coco.py'
RETINA_CFG = 'configs/crosskd/crosskd_retinanet_r101-r50_fpn_2x_coco.py'
FCOS_CFG = 'configs/crosskd/crosskd_fcos_r101-r50_caffe_fpn_gn-head_ms-640-800-2x_coco.py'
CANKD_RETINA_CFG = 'configs/crosskd/cankd-crosskd_retinanet_r101-r50_fpn_2x_coco.py'
LD_CFG = 'configs/ld/ld_gfl_r101-r50_fpn_1x_coco.py'
ATSS_CFG = 'configs/crosskd/crosskd_atss_r101-r50_fpn_1x_coco.py'
NECK = 16


@functools.cache
def _distiller(path: str) -> dict:
    return Config.fromfile(path).model.distiller.to_dict()


def distiller(path: str) -> dict:
    return copy.deepcopy(_distiller(path))


def tiny(kind: str, base_channels: int = 8) -> dict:
    cfg = tiny_retinanet(base_channels=base_channels, neck_channels=NECK)
    gn = dict(type='GN', num_groups=4, requires_grad=True)
    if kind == 'retina':
        cfg['bbox_head']['stacked_convs'] = 2
        return cfg
    test_cfg = dict(nms_pre=100, min_bbox_size=0, score_thr=0.05,
                    nms=dict(type='nms', iou_threshold=0.6), max_per_img=20)
    anchors = dict(type='AnchorGenerator', ratios=[1.0], octave_base_scale=8,
                   scales_per_octave=1, strides=[8, 16, 32])
    atss_train = dict(assigner=dict(type='ATSSAssigner', topk=9), allowed_border=-1,
                      pos_weight=-1, debug=False)
    if kind == 'gfl':
        cfg.update(type='GFL', train_cfg=atss_train, test_cfg=test_cfg, bbox_head=dict(
            type='GFLHead', num_classes=3, in_channels=NECK, stacked_convs=2,
            feat_channels=NECK, norm_cfg=gn, anchor_generator=anchors, reg_max=16,
            loss_cls=dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0, loss_weight=1.0),
            loss_dfl=dict(type='DistributionFocalLoss', loss_weight=0.25),
            loss_bbox=dict(type='GIoULoss', loss_weight=2.0)))
    elif kind == 'atss':
        cfg.update(type='ATSS', train_cfg=atss_train, test_cfg=test_cfg, bbox_head=dict(
            type='ATSSHead', num_classes=3, in_channels=NECK, stacked_convs=2,
            feat_channels=NECK, norm_cfg=gn, anchor_generator=anchors,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0] * 4,
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                          loss_weight=1.0),
            loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
            loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)))
    elif kind == 'fcos':
        cfg.update(type='FCOS', train_cfg=None, test_cfg=test_cfg, bbox_head=dict(
            type='FCOSHead', num_classes=3, in_channels=NECK, stacked_convs=2,
            feat_channels=NECK, strides=[8, 16, 32], norm_cfg=gn,
            regress_ranges=((-1, 64), (64, 128), (128, 1e8)),
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                          loss_weight=1.0),
            loss_bbox=dict(type='IoULoss', loss_weight=1.0),
            loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)))
    return cfg


def build(kind: str, dist: dict, idx: int) -> CrossKDDistill:
    torch.manual_seed(0)
    model = CrossKDDistill(architecture=tiny(kind, 8), teacher=tiny(kind, 16), distiller=dist,
                           reused_teacher_head_idx=idx)
    model.train()
    return model


def batch_of(model, seed=0):
    return model.data_preprocessor(demo_det_batch(seed=seed), training=True)


def ref_align(s, t):
    """float64: per channel, (s - mean_s) / (std_s + 1e-6) * std_t + mean_t over (N, H, W)."""
    s, t = s.double(), t.double()
    dims = (0, 2, 3)
    ms, mt = s.mean(dims, keepdim=True), t.mean(dims, keepdim=True)
    ss, st = s.std(dims, keepdim=True), t.std(dims, keepdim=True)
    return (s - ms) / (ss + 1e-6) * st + mt


def _capture_outputs(module, store):
    return module.register_forward_hook(lambda m, i, o: store.append(o.detach().clone()))


def _capture_inputs(module, store):
    return module.register_forward_pre_hook(lambda m, i: store.append(i[0].detach().clone()))


@pytest.mark.parametrize('kind,path', [('gfl', GFL_CFG), ('retina', RETINA_CFG)])
def test_teacher_head_runs_on_the_aligned_student_features(kind, path, monkeypatch):
    idx = 1
    model = build(kind, distiller(path), idx)
    monkeypatch.setattr(model.distiller, 'reset_records', lambda: None)  # keep the records
    s_head, t_head = model.student.bbox_head, model.teacher.bbox_head
    convs_before = (t_head.cls_convs, t_head.reg_convs)
    keys_before = list(model.state_dict())
    s_cls, s_reg, t_cls, t_reg, t_in_cls, t_in_reg = [], [], [], [], [], []
    handles = [_capture_outputs(s_head.cls_convs[idx - 1], s_cls),
               _capture_outputs(s_head.reg_convs[idx - 1], s_reg),
               _capture_outputs(t_head.cls_convs[idx - 1], t_cls),
               _capture_outputs(t_head.reg_convs[idx - 1], t_reg),
               _capture_inputs(t_head.cls_convs[idx], t_in_cls),
               _capture_inputs(t_head.reg_convs[idx], t_in_reg)]
    losses = model(**batch_of(model), mode='loss')
    for h in handles:
        h.remove()
    levels = 3
    # the teacher ran its convs idx.. once on its own features, once on the crossed ones
    assert len(t_in_cls) == len(t_in_reg) == 2 * levels and len(t_cls) == levels
    crossed_cls, crossed_reg = [], []
    for lv in range(levels):
        exp_cls = F.relu(ref_align(s_cls[lv], t_cls[lv]))
        exp_reg = F.relu(ref_align(s_reg[lv], t_reg[lv]))
        torch.testing.assert_close(t_in_cls[levels + lv].double(), exp_cls, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(t_in_reg[levels + lv].double(), exp_reg, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(t_in_cls[levels + lv], t_in_cls[lv])  # not the teacher's own
        crossed_cls.append(exp_cls.float())
        crossed_reg.append(exp_reg.float())

    # the recorded cross-head predictions are the teacher's remaining layers on them
    cross = model.distiller.student_recorders.get_recorder('cross').get_record_data(0)
    teacher_out = model.distiller.teacher_recorders.get_recorder('head').get_record_data(0)
    with torch.no_grad():
        for lv in range(levels):
            c, r = crossed_cls[lv], crossed_reg[lv]
            for conv in t_head.cls_convs[idx:]:
                c = conv(c)
            for conv in t_head.reg_convs[idx:]:
                r = conv(r)
            if kind == 'gfl':
                exp_c, exp_r = t_head.gfl_cls(c), t_head.scales[lv](t_head.gfl_reg(r))
            else:
                exp_c, exp_r = t_head.retina_cls(c), t_head.retina_reg(r)
            torch.testing.assert_close(cross[0][lv], exp_c, atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(cross[1][lv], exp_r, atol=1e-4, rtol=1e-4)
        # the teacher's recorded predictions are its own tensor-mode outputs
        own = model.teacher(batch_of(model)['inputs'], mode='tensor')
        for lv in range(levels):
            torch.testing.assert_close(teacher_out[0][lv], own[0][lv])
    # boxes: N x M x 4 per level, as many as the student's targets
    targets = model.distiller.student_recorders.get_recorder('targets').get_record_data(0)
    lw_idx = 2 if kind == 'gfl' else 1
    for lv in range(levels):
        assert cross[2][lv].shape == (*targets[lw_idx][lv].shape, 4)

    # the teacher's head is whole again; nothing added to the state dict
    assert (t_head.cls_convs, t_head.reg_convs) == convs_before
    assert list(model.state_dict()) == keys_before
    names = ['loss_cls_kd', 'loss_reg_kd'] + (['loss_bbox_kd'] if kind == 'gfl' else [])
    for name in names:
        assert torch.isfinite(losses[f'distill.{name}']) and losses[f'distill.{name}'] > 0


@pytest.mark.parametrize('kind,path', [('gfl', GFL_CFG), ('retina', RETINA_CFG)])
def test_gradients_reach_the_student_through_the_cross_path_only(kind, path):
    idx = 1
    model = build(kind, distiller(path), idx)
    losses = model(**batch_of(model), mode='loss')
    sum(v for k, v in losses.items() if k.startswith('distill.')).backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert not any(p.requires_grad for p in model.teacher.parameters())
    assert not model.teacher.training and model.student.training
    s_head = model.student.bbox_head
    # before the cut: backbone, neck, the student's first head convs
    for module in (model.student.backbone, model.student.neck, s_head.cls_convs[:idx],
                   s_head.reg_convs[:idx]):
        grads = [p.grad for p in module.parameters()]
        assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0
    # after the cut the student's own layers are not on the cross path
    cls_pred = s_head.gfl_cls if kind == 'gfl' else s_head.retina_cls
    for module in (s_head.cls_convs[idx:], s_head.reg_convs[idx:], cls_pred):
        assert all(p.grad is None for p in module.parameters())


def test_index_zero_aligns_the_fpn_levels_without_relu(monkeypatch):
    model = build('retina', distiller(RETINA_CFG), 0)
    monkeypatch.setattr(model.distiller, 'reset_records', lambda: None)
    t_in = []
    handle = _capture_inputs(model.teacher.bbox_head.cls_convs[0], t_in)
    batch = batch_of(model)
    model(**batch, mode='loss')
    handle.remove()
    with torch.no_grad():
        s_fpn = model.student.extract_feat(batch['inputs'])
        t_fpn = model.teacher.extract_feat(batch['inputs'])
    for lv in range(3):
        expected = ref_align(s_fpn[lv], t_fpn[lv])
        assert (expected < 0).any()  # no ReLU at index 0
        torch.testing.assert_close(t_in[3 + lv].double(), expected, atol=1e-5, rtol=1e-5)


def test_cankd_and_crosskd_in_one_config_log_apart():
    dist = distiller(CANKD_RETINA_CFG)
    for key in ('distill_losses', 'loss_forward_mappings'):
        dist[key].pop('loss_cankd_fpn3')  # 3 FPN levels here
    for cfg in dist['distill_losses'].values():
        if cfg['type'] == 'CanKDLoss':
            cfg['in_channels'] = NECK
    model = build('retina', dist, 1)
    losses = model(**batch_of(model), mode='loss')
    distill = sorted(k for k in losses if k.startswith('distill.'))
    assert distill == ['distill.loss_cankd_fpn0', 'distill.loss_cankd_fpn1',
                       'distill.loss_cankd_fpn2', 'distill.loss_cls_kd', 'distill.loss_reg_kd']
    assert all(torch.isfinite(losses[k]) for k in distill)
    assert 'student.loss_cls' in losses


def test_fcos_with_the_shipped_distiller_and_atss():
    # FCOS: every student conv reused (index = stacked_convs): only the predictors cross
    model = build('fcos', distiller(FCOS_CFG), 2)
    losses = model(**batch_of(model), mode='loss')
    assert losses['distill.loss_cls_kd'] > 0 and losses['distill.loss_reg_kd'] > 0
    (losses['distill.loss_cls_kd'] + losses['distill.loss_reg_kd']).backward()
    assert model.student.bbox_head.cls_convs[1].conv.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.teacher.parameters())
    # ATSS with the shipped distiller (3 classes here)
    dist = distiller(ATSS_CFG)
    dist['distill_losses']['loss_center_kd']['num_classes'] = 3
    model = build('atss', dist, 1)
    losses = model(**batch_of(model), mode='loss')
    for name in ('loss_cls_kd', 'loss_reg_kd', 'loss_center_kd'):
        assert losses[f'distill.{name}'] > 0
    losses['distill.loss_center_kd'].backward()
    head = model.student.bbox_head
    assert head.reg_convs[0].conv.weight.grad.abs().sum() > 0  # centerness is on the reg tower
    assert head.atss_centerness.weight.grad is None


def test_errors():
    with pytest.raises(ValueError, match='reused_teacher_head_idx must be in 0..2'):
        build('retina', distiller(RETINA_CFG), 3)
    with pytest.raises(ValueError, match='cls_convs'):
        CrossKDDistill(architecture=tiny('retina'), teacher=tiny('retina'),
                       distiller=distiller(RETINA_CFG), head='neck')
    student = tiny('retina')
    student['bbox_head']['feat_channels'] = 8
    model = CrossKDDistill(architecture=student, teacher=tiny('retina'),
                           distiller=distiller(RETINA_CFG), reused_teacher_head_idx=1)
    with pytest.raises(ValueError, match='same head width'):
        model(**batch_of(model), mode='loss')


def test_ld_from_the_distiller_equals_mmdets_ldhead_term():
    """The shipped LD config's distiller on a tiny GFL pair: distill.loss_ld
    is the loss_ld mmdet's LDHead computes for the same student head, batch
    and teacher distributions."""
    from mmdet.models.utils import unpack_gt_instances
    from mmdet.registry import MODELS as MMDET_MODELS
    dist = distiller(LD_CFG)
    torch.manual_seed(0)
    model = SingleTeacherDistill(architecture=tiny('gfl', 8), teacher=tiny('gfl', 16),
                                 distiller=dist)
    model.train()
    batch = batch_of(model)
    losses = model(**batch, mode='loss')
    head_cfg = copy.deepcopy(tiny('gfl')['bbox_head'])
    head_cfg.update(type='LDHead', loss_ld=dict(type='KnowledgeDistillationKLDivLoss',
                                                loss_weight=0.25, T=10),
                    train_cfg=tiny('gfl')['train_cfg'])
    ld_head = MMDET_MODELS.build(head_cfg)
    ld_head.load_state_dict(model.student.bbox_head.state_dict())
    with torch.no_grad():
        x = model.student.extract_feat(batch['inputs'])
        soft = model.teacher.bbox_head(model.teacher.extract_feat(batch['inputs']))[1]
        gts, ignores, metas = unpack_gt_instances(batch['data_samples'])
        cls_scores, bbox_preds = ld_head(x)
        ref = ld_head.loss_by_feat(cls_scores, bbox_preds, gts, metas, soft, ignores)
    torch.testing.assert_close(losses['distill.loss_ld'].detach(), sum(ref['loss_ld']))
    assert losses['distill.loss_ld'] > 0


def test_the_official_held_map_is_the_activated_one():
    """Why CrossKDDistill holds a ConvModule's output (after its ReLU): the
    official forward_crosskd_single keeps ``cls_conv(x, activate=False)`` and
    then calls ``cls_conv.activate`` on it, which mmcv builds in place."""
    from mmcv.cnn import ConvModule
    torch.manual_seed(0)
    conv = ConvModule(4, 4, 3, padding=1, norm_cfg=dict(type='GN', num_groups=2))
    x = torch.randn(1, 4, 5, 5)
    feat = conv(x, activate=False)
    hold = feat
    assert (hold < 0).any()
    feat = conv.activate(feat)
    assert (hold >= 0).all()
    torch.testing.assert_close(hold, conv(x))
