import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

from cankd.models.algorithms import build_submodel
from cankd.registry import MODELS
from cankd.testing import tiny_retinanet, tiny_segmentor


def _unscoped(cfg):
    cfg = dict(cfg)
    cfg.pop('_scope_')
    return cfg


def test_default_scope_cankd_builds_mmdet_and_mmseg_models():
    cfg = Config(dict(default_scope='cankd',
                      det=dict(_unscoped(tiny_retinanet()), _scope_='mmdet'),
                      seg=dict(_unscoped(tiny_segmentor()), _scope_='mmseg')))
    init_default_scope(cfg.default_scope)
    assert DefaultScope.get_current_instance().scope_name == 'cankd'
    detector = MODELS.build(cfg.det)
    segmentor = MODELS.build(cfg.seg)
    assert type(detector).__module__.startswith('mmdet.')
    assert type(segmentor).__module__.startswith('mmseg.')
    # cankd's own modules resolve in the same scope
    loss = MODELS.build(dict(type='CanKDLoss', in_channels=4))
    assert loss(torch.randn(1, 4, 4, 4), torch.randn(1, 4, 4, 4)).dim() == 0


def test_scope_is_inferred_for_unscoped_task_models():
    assert type(build_submodel(_unscoped(tiny_retinanet()))).__name__ == 'RetinaNet'
    assert type(build_submodel(_unscoped(tiny_segmentor()))).__name__ == 'EncoderDecoder'
    prefixed = dict(_unscoped(tiny_retinanet()), type='mmdet.RetinaNet')
    assert type(build_submodel(prefixed)).__name__ == 'RetinaNet'
    with pytest.raises(ValueError, match="'RetinaNett' is not registered in cankd, mmdet or mmseg"):
        build_submodel(dict(type='RetinaNett'))


def test_cfg_path_model_builds_from_the_mmdet_package():
    model = build_submodel(dict(cfg_path='mmdet::retinanet/retinanet_r18_fpn_1x_coco.py',
                                pretrained=False))
    assert type(model).__name__ == 'RetinaNet'
    assert model.backbone.depth == 18
