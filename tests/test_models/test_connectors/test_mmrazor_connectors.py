"""Connectors ported from mmrazor (its test_connectors.py in spirit), with
checks of forward semantics and checkpoint key names."""
import math

import pytest
import torch
from torch import nn

from cankd.models.connectors import (FBKDStudentConnector, FBKDTeacherConnector, NormConnector,
                                     OFDTeacherConnector, Paraphraser, TorchFunctionalConnector,
                                     TorchNNConnector, Translator)
from cankd.registry import MODELS


def test_norm_connector():
    feat = torch.randn(2, 3, 2, 2)
    conn = NormConnector(3, dict(type='BN', affine=False, track_running_stats=False))
    expected = (feat - feat.mean((0, 2, 3), keepdim=True)) / torch.sqrt(
        feat.var((0, 2, 3), unbiased=False, keepdim=True) + 1e-5)
    torch.testing.assert_close(conn(feat), expected)


def test_torch_connectors_match_each_other_and_refuse_unknown_names():
    x = torch.rand(3, 3, 16, 16)
    functional = TorchFunctionalConnector(function_name='avg_pool2d',
                                          func_args=dict(kernel_size=4))
    module = TorchNNConnector(module_name='AvgPool2d', module_args=dict(kernel_size=4))
    assert functional(x).shape == (3, 3, 4, 4)
    assert torch.equal(functional(x), module(x))
    with pytest.raises(AssertionError, match='function_name is required'):
        TorchFunctionalConnector()
    with pytest.raises(ValueError, match="'fake' is not supported"):
        TorchFunctionalConnector(function_name='fake')
    with pytest.raises(AssertionError, match='module_name is required'):
        TorchNNConnector()
    with pytest.raises(ValueError, match="'fake' is not supported"):
        TorchNNConnector(module_name='fake')
    conv = TorchNNConnector(module_name='Conv2d', module_args=dict(
        in_channels=3, out_channels=5, kernel_size=1))
    assert set(conv.state_dict()) == {'func.weight', 'func.bias'}  # mmrazor's keys


def test_factor_transfer_connectors_and_paraphraser_phases():
    s_feat, t_feat = torch.randn(2, 1, 5, 5), torch.randn(2, 3, 5, 5)
    translator = Translator(in_channel=1, out_channel=2)
    paraphraser = Paraphraser(in_channel=3, out_channel=2)
    assert paraphraser.phase == 'pretrain'
    assert translator(s_feat).shape == paraphraser.forward_train(t_feat).shape == (2, 2, 5, 5)
    # pretrain: reconstruction through encoder + decoder, with gradients
    rec = paraphraser(t_feat)
    assert rec.shape == t_feat.shape and rec.requires_grad
    torch.testing.assert_close(rec, paraphraser.decoder(paraphraser.encoder(t_feat)))
    # train: the factor, without gradients (the paraphraser is frozen)
    paraphraser.phase = 'train'
    factor = paraphraser(t_feat)
    assert not factor.requires_grad
    torch.testing.assert_close(factor, paraphraser.encoder(t_feat))
    with pytest.raises(ValueError, match='unexpected phase'):
        Paraphraser(3, 2, phase='finetune')
    # mmrazor's layer indices (BN or an empty placeholder at 1, 4, 7)
    assert {'encoder.0.weight', 'encoder.3.weight', 'encoder.6.weight', 'decoder.6.weight'} \
        <= set(paraphraser.state_dict())
    assert 'encoder.1.running_mean' in translator.state_dict()  # Translator: BN by default
    assert 'encoder.1.running_mean' not in Paraphraser(3, 2).state_dict()


def test_fbkd_connectors():
    kwargs = dict(in_channels=16, reduction=2, sub_sample=True)
    student, teacher = FBKDStudentConnector(**kwargs), FBKDTeacherConnector(**kwargs)
    s_feat, t_feat = torch.randn(2, 16, 8, 8), torch.randn(2, 16, 8, 8)
    s_out, t_out = student(s_feat), teacher(t_feat)
    assert len(s_out) == 6 and len(t_out) == 5
    assert torch.equal(t_out[-1], t_feat)
    spatial, channel, pool = t_out[:3]
    assert spatial.shape == (2, 1, 8, 8) and channel.shape == (2, 16, 1, 1)
    torch.testing.assert_close(spatial.sum((1, 2, 3)), torch.full((2,), 64.))  # H*W softmax
    torch.testing.assert_close(channel.sum((1, 2, 3)), torch.full((2,), 16.))  # C softmax
    torch.testing.assert_close(pool, t_feat.mean(1, keepdim=True))
    assert [o.shape for o in s_out[2:]] == [(2, 16), (2, 1, 8, 8), (2, 16, 8, 8),
                                             (2, 16, 8, 8)]
    # mmrazor's layout: the extra max pool wraps NonLocal2d's own sub-sampled g
    assert 'student_non_local.g.0.0.conv.weight' in student.state_dict()


def _ofd_reference(gamma, beta):
    """OFD's margin, elementwise with math only (as the official code)."""
    out = []
    for s, m in zip(gamma.abs().tolist(), beta.tolist()):
        cdf = 0.5 * (1 + math.erf(-m / s / math.sqrt(2)))
        out.append(-s * math.exp(-(m / s)**2 / 2) / math.sqrt(2 * math.pi) / cdf + m
                   if cdf > 0.001 else -3 * s)
    return torch.tensor(out).view(1, -1, 1, 1)


def test_ofd_teacher_connector_margin():
    bn = nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, -0.5, 2.0, 0.1]))
        bn.bias.copy_(torch.tensor([0.0, 0.3, -1.0, 5.0]))  # the last: cdf < 0.001
    margin = OFDTeacherConnector.margin_from_bn(bn)
    torch.testing.assert_close(margin, _ofd_reference(bn.weight, bn.bias))
    conn = OFDTeacherConnector()
    with pytest.raises(AssertionError, match='margin must be initialized'):
        conn(torch.randn(1, 4, 2, 2))
    conn.init_margin(margin)
    feat = torch.randn(2, 4, 3, 3, requires_grad=True)
    out = conn(feat)
    assert torch.equal(out, torch.max(feat.detach(), margin)) and not out.requires_grad
    # a buffer: saved, and loaded into a connector whose margin is not set yet
    fresh = OFDTeacherConnector()
    fresh.load_state_dict(conn.state_dict())
    assert torch.equal(fresh.margin, margin)


@pytest.mark.parametrize('name', ['NormConnector', 'TorchFunctionalConnector',
                                  'TorchNNConnector', 'FBKDStudentConnector',
                                  'FBKDTeacherConnector', 'Translator', 'Paraphraser',
                                  'OFDTeacherConnector'])
def test_registered_under_mmrazor_names(name):
    assert MODELS.get(name) is not None
