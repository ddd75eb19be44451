"""Method/function recorders on a real (tiny) mmdet head, as head
distillation records them."""
import pytest
import torch
from mmdet.models.dense_heads import anchor_head, retina_head
from mmdet.registry import MODELS as MMDET_MODELS

from cankd.models.recorders import (FunctionOutputs, MethodInputs, MethodOutputs,
                                    RecorderManager)

FORWARD_SINGLE = 'mmdet.models.dense_heads.retina_head.RetinaHead.forward_single'


@pytest.fixture(scope='module')
def head():
    torch.manual_seed(0)
    return MMDET_MODELS.build(dict(
        type='RetinaHead', num_classes=3, in_channels=8, stacked_convs=1, feat_channels=8,
        anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                              scales_per_octave=1, ratios=[1.0], strides=[8, 16]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0] * 4,
                        target_stds=[1.0] * 4),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25),
        loss_bbox=dict(type='L1Loss'))).eval()


def _feats():
    return (torch.randn(2, 8, 8, 8), torch.randn(2, 8, 4, 4))


def test_forward_single_outputs_equal_what_the_head_returned(head):
    original = retina_head.RetinaHead.__dict__['forward_single']
    outs = MethodOutputs(FORWARD_SINGLE)
    ins = MethodInputs(FORWARD_SINGLE)
    manager = RecorderManager(dict(outs=outs, ins=ins))
    manager.initialize(head)
    feats = _feats()
    with manager:
        cls_scores, bbox_preds = head(feats)
    assert retina_head.RetinaHead.__dict__['forward_single'] is original
    assert len(outs.data_buffer) == 2  # once per FPN level
    for level in range(2):
        # record_idx = level, data_idx 0/1 = cls_score (N x A*K x H x W) / bbox_pred
        cls_score = outs.get_record_data(record_idx=level, data_idx=0)
        assert cls_score.shape == (2, 3, 8 // 2**level, 8 // 2**level)
        assert torch.equal(cls_score, cls_scores[level])
        assert torch.equal(outs.get_record_data(level, 1), bbox_preds[level])
        assert ins.get_record_data(level, 0) is feats[level]


def test_function_inside_mmdet_records_the_heads_multi_apply(head):
    original = anchor_head.multi_apply
    rec = FunctionOutputs('mmdet.models.dense_heads.anchor_head.multi_apply')
    rec.initialize()
    with rec:
        cls_scores, bbox_preds = head(_feats())
    assert anchor_head.multi_apply is original
    recorded_cls, recorded_bbox = rec.get_record_data()
    assert all(torch.equal(a, b) for a, b in zip(recorded_cls, cls_scores))
    assert all(torch.equal(a, b) for a, b in zip(recorded_bbox, bbox_preds))


def test_head_method_restored_when_the_forward_raises(head):
    original = retina_head.RetinaHead.__dict__['forward_single']
    rec = MethodOutputs(FORWARD_SINGLE)
    rec.initialize()
    with pytest.raises(RuntimeError):
        with rec:
            head((torch.randn(2, 5, 8, 8),))  # wrong channels: conv raises
    assert retina_head.RetinaHead.__dict__['forward_single'] is original
    assert rec.data_buffer == [] and not rec.recording
    head(_feats())  # the head still works unpatched
