"""Configs ported from mmrazor's model zoo (FBKD, CWD on GFL's classification
head, CWD on PSPNet logits): the settings mmrazor published them with.

test_configs_build.py already builds each of them offline; these checks only
parse the configs.
"""
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FBKD = 'configs/fbkd/fbkd_faster-rcnn_r101-r50_fpn_1x_coco.py'
GFL = 'configs/cwd/cwd-cls-head_gfl_r101-r50_fpn_1x_coco.py'
PSP = 'configs/cwd/cwd_pspnet_r101-r18_4xb2-80k_cityscapes-512x1024.py'


def test_fbkd_faster_rcnn(load_config):
    cfg = load_config(FBKD)
    model = cfg.model
    assert model.architecture.cfg_path == 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
    assert model.teacher.cfg_path == 'mmdet::faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py'
    assert model.teacher_ckpt.endswith('faster_rcnn_r101_fpn_1x_coco_20200130-f513f705.pth')
    # mmrazor's pretrained=True student: mmdet's trained R-50 1x, via init_cfg
    init = model.architecture.init_cfg
    assert init.type == 'Pretrained'
    assert init.checkpoint.endswith('faster_rcnn_r50_fpn_1x_coco_20200130-047c8118.pth')
    d = model.distiller
    assert sorted(d.distill_losses) == [f'loss_s{i}' for i in range(4)]
    assert all(loss == dict(type='FBKDLoss') for loss in d.distill_losses.values())
    for i in range(4):
        for side in ('student_recorders', 'teacher_recorders'):
            assert d[side][f'neck_s{i}'].source == f'neck.fpn_convs.{i}.conv'
        mapping = d.loss_forward_mappings[f'loss_s{i}']
        assert mapping.s_input.connector == f'loss_s{i}_sfeat'
        assert mapping.t_input.connector == f'loss_s{i}_tfeat'
        expected = [dict(reduction=4, maxpool_stride=8), dict(reduction=4, maxpool_stride=4),
                    dict(), dict()][i]
        for side, kind in (('s', 'Student'), ('t', 'Teacher')):
            conn = d.connectors[f'loss_s{i}_{side}feat']
            assert conn == dict(type=f'FBKD{kind}Connector', in_channels=256,
                                mode='dot_product', sub_sample=True, **expected)
    assert cfg.train_cfg.max_epochs == 12
    assert cfg.optim_wrapper.optimizer.lr == 0.02


def test_cwd_gfl_cls_head(load_config):
    cfg = load_config(GFL)
    model = cfg.model
    assert model.architecture.cfg_path == 'mmdet::gfl/gfl_r50_fpn_1x_coco.py'
    assert model.teacher.cfg_path == 'mmdet::gfl/gfl_r101_fpn_ms-2x_coco.py'
    assert model.teacher_ckpt.endswith('gfl_r101_fpn_mstrain_2x_coco_20200629_200126-dd12f847.pth')
    d = model.distiller
    assert d.student_recorders.cls.source == d.teacher_recorders.cls.source == 'bbox_head.gfl_cls'
    assert len(d.distill_losses) == 5  # one per FPN level P3-P7 (the shared conv runs 5x)
    for i in range(5):
        assert d.distill_losses[f'loss_cwd_cls_head{i}'] == dict(
            type='ChannelWiseDivergence', tau=1, loss_weight=5)
        mapping = d.loss_forward_mappings[f'loss_cwd_cls_head{i}']
        assert mapping.preds_S.record_idx == mapping.preds_T.record_idx == i
    assert cfg.train_cfg.max_epochs == 12
    assert cfg.optim_wrapper.optimizer.lr == 0.01


def test_cwd_pspnet_logits(load_config):
    cfg = load_config(PSP)
    model = cfg.model
    assert model.architecture.cfg_path == \
        'mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py'
    assert model.teacher.cfg_path == \
        'mmseg::pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py'
    assert model.teacher_ckpt.endswith(
        'pspnet_r101-d8_512x1024_80k_cityscapes_20200606_112211-e1e1100f.pth')
    d = model.distiller
    assert 'connectors' not in d
    assert d.distill_losses == dict(
        loss_cwd=dict(type='ChannelWiseDivergence', tau=1, loss_weight=5))
    assert d.student_recorders.logits.source == 'decode_head.conv_seg'
    assert d.teacher_recorders.logits.source == 'decode_head.conv_seg'
    assert cfg.train_cfg.max_iters == 80000
    assert cfg.train_dataloader.batch_size == 2


@pytest.mark.parametrize('path', [FBKD, GFL, PSP])
def test_published_numbers_in_header(path):
    """The header names mmrazor's published number and that it was not reproduced."""
    with open(osp.join(ROOT, path)) as f:
        header = f.read(600)
    number = {FBKD: '39.3', GFL: '41.9', PSP: '75.54'}[path]
    assert number in header and 'not reproduced' in header
