"""The cankd configs for the official CanKD pairs cankd lacked (configs/cankd/):
what each one distils (parsed, fast), and one training step on tiny inputs for
those whose setup differs from the official config's (slow).

test_configs_build.py builds every one of them offline.
"""
import os.path as osp

import pytest
import torch
from mmengine.optim import OptimWrapper

from cankd.registry import MODELS
from cankd.testing.tiny_models import demo_det_batch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = 'configs/cankd/'
FRCNN_X101_RETINA = CFG + 'cankd_faster-rcnn-x101_retinanet-r50_fpn_2xb2-1x_coco.py'
SWIN_RETINA = CFG + 'cankd_mask-rcnn-swin-s_retinanet-r50_fpn_2xb2-2x_coco.py'
DEFORMABLE = CFG + 'cankd_deformable-detr_r101-r50_16xb2-50e_coco.py'
GROUNDING = CFG + 'cankd_grounding-dino_r101-r50_8xb2-1x_coco.py'
NEW = [CFG + name for name in (
    'cankd_reppoints-moment_x101-dconv-r50_fpn-gn_head-gn_2xb2-2x_coco.py',
    'cankd-dagger_reppoints-moment_x101-dconv-r50_fpn-gn_head-gn_2xb2-2x_coco.py',
    'cankd_cascade-mask-rcnn-x101_faster-rcnn-r50_fpn_2xb2-2x_coco.py',
    'cankd-dagger_cascade-mask-rcnn-x101_faster-rcnn-r50_fpn_2xb2-2x_coco.py',
    'cankd_gfl-r101_retinanet-r50_fpn_2xb2-1x_coco.py',
    'cankd_dino-4scale_r101-r50_12e_coco.py',
    'cankd_dino-5scale_swin-l-swin-b_12e_coco.py',
    'cankd-dagger_retinanet_r101-r50_fpn_4xb2-1x_objects365v2.py',
)] + [FRCNN_X101_RETINA, SWIN_RETINA, DEFORMABLE, GROUNDING]


@pytest.mark.parametrize('path', NEW, ids=lambda p: p[len(CFG):-3])
def test_every_new_config_names_its_source_and_a_teacher(path, load_config):
    cfg = load_config(path)
    with open(osp.join(ROOT, path)) as f:
        header = f.read().split('_base_')[0]
    assert 'tori-hotaru/CanKD@f951e3a' in header, path
    assert cfg.model._scope_ == 'cankd'
    assert cfg.model.teacher_ckpt
    assert cfg.val_cfg.type == 'cankd.SingleTeacherDistillValLoop'


def test_faster_rcnn_x101_to_retinanet_pairs_levels_by_stride(load_config):
    """Faster R-CNN's FPN outputs P2..P6, RetinaNet's P3..P7: student output
    i (P3+i) pairs with teacher output i+1 (P3+i)."""
    d = load_config(FRCNN_X101_RETINA).model.distiller
    assert len(d.loss_forward_mappings) == 4
    for i in range(4):
        m = d.loss_forward_mappings[f'loss_cankd_fpn{i}']
        assert (m.s_feature.data_idx, m.t_feature.data_idx) == (i, i + 1)


def test_swin_teacher_uses_the_align_loss(load_config):
    d = load_config(SWIN_RETINA).model.distiller
    assert {loss.type for loss in d.distill_losses.values()} == {'NLKD_IN_align_Loss'}


def test_deformable_detr_distils_the_backbone_stages_with_cankd(load_config):
    d = load_config(DEFORMABLE).model.distiller
    for name, channels in (('layer2', 512), ('layer3', 1024), ('layer4', 2048)):
        assert d.student_recorders[f'backbone_{name}'].source == f'backbone.{name}'
        assert d.teacher_recorders[f'backbone_{name}'].source == f'backbone.{name}'
        assert d.distill_losses[f'loss_cankd_{name}'] == dict(
            type='CanKDLoss', in_channels=channels, loss_weight=10)


def _step(model_cfg, size, texts=None) -> dict:
    model_cfg.teacher_ckpt = None  # never download
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.train()
    batch = demo_det_batch(batch_size=2, size=size, num_classes=3)
    if texts:
        for sample in batch['data_samples']:
            sample.text = texts
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3))
    log_vars = model.train_step(batch, optim)
    distill = {k: float(v) for k, v in log_vars.items() if k.startswith('distill.')}
    assert len(distill) == len(model.distiller.distill_losses), distill
    assert all(0 < v < float('inf') for v in distill.values()), distill
    return distill


@pytest.mark.slow
@pytest.mark.parametrize('path,size', [(FRCNN_X101_RETINA, (128, 128)),
                                       (SWIN_RETINA, (128, 128)),
                                       (DEFORMABLE, (64, 64))],
                         ids=['faster-rcnn-x101_retinanet', 'swin_retinanet', 'deformable-detr'])
def test_training_step(path, size, load_config):
    _step(load_config(path).model, size)


@pytest.mark.slow
def test_grounding_dino_training_step_with_a_tiny_local_bert(load_config, tmp_path):
    pytest.importorskip('transformers', reason='Grounding DINO needs the optional "grounding" '
                        'extra (transformers): pip install -e .[grounding]')
    from cankd.testing.tiny_bert import use_tiny_bert, write_tiny_bert
    model_cfg = load_config(GROUNDING).model
    classes = ('person', 'bicycle', 'car')
    use_tiny_bert(model_cfg, write_tiny_bert(str(tmp_path), words=classes))
    for part in ('architecture', 'teacher'):
        model_cfg[part]['num_queries'] = 30  # top-k over a 128x128 image's tokens
    distill = _step(model_cfg, (128, 128), texts=classes)
    assert sorted(distill) == [f'distill.loss_cankd_neck{i}' for i in range(3)]
