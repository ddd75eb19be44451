"""CrossKD and LD configs: the settings and numbers they were published with
(test_configs_build.py builds each of them offline; these only parse)."""
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
GFL = 'configs/crosskd/crosskd_gfl_r101-r50_fpn_1x_coco.py'
GFL_PKD = 'configs/crosskd/crosskd-pkd_gfl_r101-r50_fpn_1x_coco.py'
RETINA = 'configs/crosskd/crosskd_retinanet_r101-r50_fpn_2x_coco.py'
FCOS = 'configs/crosskd/crosskd_fcos_r101-r50_caffe_fpn_gn-head_ms-640-800-2x_coco.py'
LD = 'configs/ld/ld_gfl_r101-r50_fpn_1x_coco.py'
ATSS = 'configs/crosskd/crosskd_atss_r101-r50_fpn_1x_coco.py'
CANKD_GFL = 'configs/crosskd/cankd-crosskd_gfl_r101-r50_fpn_1x_coco.py'
CANKD_RETINA = 'configs/crosskd/cankd-crosskd_retinanet_r101-r50_fpn_2x_coco.py'
GFL_CKPT = 'gfl_r101_fpn_mstrain_2x_coco_20200629_200126-dd12f847.pth'


def _losses(cfg):
    return {k: v.to_dict() for k, v in cfg.model.distiller.distill_losses.items()}


def test_crosskd_gfl(load_config):
    cfg = load_config(GFL)
    m = cfg.model
    assert m.type == 'CrossKDDistill' and m.reused_teacher_head_idx == 3
    assert m.architecture.cfg_path == 'mmdet::gfl/gfl_r50_fpn_1x_coco.py'
    assert m.teacher.cfg_path == 'mmdet::gfl/gfl_r101_fpn_ms-2x_coco.py'
    assert m.teacher_ckpt.startswith('https://') and m.teacher_ckpt.endswith(GFL_CKPT)
    assert _losses(cfg) == dict(
        loss_cls_kd=dict(type='KDQualityFocalLoss', beta=1, loss_weight=1.0,
                         reduce_avg_factor=True),
        loss_reg_kd=dict(type='LocalizationDistillLoss', reg_max=16, T=1, bin_reduction='sum',
                         normalize='weight_sum', loss_weight=3.0),
        loss_bbox_kd=dict(type='CrossKDBoxLoss', mode='giou', normalize='weight_sum',
                          loss_weight=2.0))
    assert cfg.train_cfg.max_epochs == 12 and cfg.optim_wrapper.optimizer.lr == 0.01


def test_crosskd_pkd_gfl(load_config):
    cfg = load_config(GFL_PKD)
    losses = _losses(cfg)
    assert sorted(losses) == ['loss_cls_kd'] + [f'loss_pkd_fpn{i}' for i in range(5)] + \
        ['loss_reg_kd']
    assert losses['loss_reg_kd']['loss_weight'] == 4.0
    assert all(losses[f'loss_pkd_fpn{i}'] == dict(type='PKDLoss', loss_weight=6)
               for i in range(5))
    assert sorted(cfg.model.distiller.loss_forward_mappings) == sorted(losses)


def test_crosskd_retinanet_and_fcos(load_config):
    cfg = load_config(RETINA)
    assert cfg.model.reused_teacher_head_idx == 3
    assert cfg.model.teacher.cfg_path == 'mmdet::retinanet/retinanet_r101_fpn_2x_coco.py'
    assert _losses(cfg)['loss_reg_kd'] == dict(type='CrossKDBoxLoss', mode='giou',
                                               normalize='avg_factor', loss_weight=1.0)
    assert cfg.train_cfg.max_epochs == 24 and cfg.optim_wrapper.optimizer.lr == 0.01
    cfg = load_config(FCOS)
    assert cfg.model.reused_teacher_head_idx == 2
    assert _losses(cfg) == dict(
        loss_cls_kd=dict(type='KDQualityFocalLoss', beta=1, loss_weight=0.4,
                         reduce_avg_factor=True),
        loss_reg_kd=dict(type='CrossKDBoxLoss', mode='iou', normalize='avg_factor',
                         loss_weight=0.75, reduce_avg_factor=True))
    assert cfg.model.teacher_ckpt.endswith('640-800_2x_coco-511424d6.pth')
    assert cfg.train_cfg.max_epochs == 24
    assert cfg.optim_wrapper.clip_grad.max_norm == 35


def test_crosskd_atss(load_config):
    cfg = load_config(ATSS)
    assert cfg.model.reused_teacher_head_idx == 3
    assert cfg.model.teacher.cfg_path == 'mmdet::atss/atss_r101_fpn_1x_coco.py'
    assert cfg.model.teacher_ckpt.endswith('atss_r101_fpn_1x_20200825-dfcadd6f.pth')
    assert _losses(cfg) == dict(
        loss_cls_kd=dict(type='KDQualityFocalLoss', beta=1, loss_weight=1.0,
                         reduce_avg_factor=True),
        loss_reg_kd=dict(type='CrossKDBoxLoss', mode='giou', normalize='avg_factor',
                         loss_weight=1.0, reduce_avg_factor=True),
        loss_center_kd=dict(type='CenternessKDLoss', num_classes=80, loss_weight=1.0,
                            reduce_avg_factor=True))
    assert cfg.train_dataloader.batch_size == 8 and cfg.auto_scale_lr.base_batch_size == 16


def test_ld_gfl(load_config):
    cfg = load_config(LD)
    assert cfg.model.type == 'SingleTeacherDistill'
    assert cfg.model.teacher_ckpt.endswith(GFL_CKPT)
    assert _losses(cfg) == dict(loss_ld=dict(
        type='LocalizationDistillLoss', reg_max=16, T=10, bin_reduction='mean',
        normalize='none', loss_weight=0.25))
    mapping = cfg.model.distiller.loss_forward_mappings.loss_ld
    assert mapping.scores.from_student is True  # LDHead weights by the student's score


def test_cankd_crosskd_combines_both(load_config):
    for path, head in ((CANKD_GFL, GFL), (CANKD_RETINA, RETINA)):
        cfg, base = load_config(path), load_config(head)
        losses, base_losses = _losses(cfg), _losses(base)
        assert {k: v for k, v in losses.items() if k in base_losses} == base_losses
        assert all(losses[f'loss_cankd_fpn{i}'] == dict(type='CanKDLoss', in_channels=256,
                                                        loss_weight=10) for i in range(4))
        assert len(losses) == len(base_losses) + 4


@pytest.mark.parametrize('path,number', [(GFL, '43.7'), (GFL_PKD, '43.9'), (RETINA, '39.7'),
                                         (FCOS, '41.1'), (ATSS, '41.8'), (LD, '41.0'),
                                         (CANKD_GFL, None), (CANKD_RETINA, None)])
def test_published_numbers_in_header(path, number):
    with open(osp.join(ROOT, path)) as f:
        header = f.read(800)
    if number is None:
        assert 'No published number' in header
    else:
        assert number in header and 'not reproduced' in header
