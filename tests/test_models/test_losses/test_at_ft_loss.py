import math

import pytest
import torch

from cankd.models.losses import ATLoss, FTLoss
from cankd.registry import MODELS


def unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def plain_at(s, t):
    """Attention transfer in Python floats: per sample, the sum over channels
    of squared activations at each position (the paper's F_sum^2; mmrazor's
    channel mean differs by 1/C, which the normalisation removes), scaled to
    unit L2 norm; mean of the squared differences over N * H * W."""
    def att(x):
        x = x.double()
        return [unit([sum(x[n, c, p // x.shape[3], p % x.shape[3]].item()**2
                          for c in range(x.shape[1]))
                      for p in range(x.shape[2] * x.shape[3])]) for n in range(x.shape[0])]
    a, b = att(s), att(t)
    diffs = [(x - y)**2 for ra, rb in zip(a, b) for x, y in zip(ra, rb)]
    return sum(diffs) / len(diffs)


def plain_ft(s, t):
    """Factor transfer in Python floats: flatten each sample, unit L2 norm,
    mean absolute difference over all N * D elements."""
    a = [unit(r) for r in s.double().reshape(s.shape[0], -1).tolist()]
    b = [unit(r) for r in t.double().reshape(t.shape[0], -1).tolist()]
    diffs = [abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb)]
    return sum(diffs) / len(diffs)


@pytest.mark.parametrize('s_channels', [4, 8])
@pytest.mark.parametrize('weight', [1.0, 250.0])
def test_at_matches_float64_reference(s_channels, weight):
    torch.manual_seed(0)
    s, t = torch.randn(2, s_channels, 5, 6), torch.randn(2, 8, 5, 6)
    got = ATLoss(loss_weight=weight)(s, t).item()
    assert got == pytest.approx(weight * plain_at(s, t), rel=1e-6)


@pytest.mark.parametrize('shape', [(3, 4, 5, 6), (4, 10)])
@pytest.mark.parametrize('weight', [1.0, 2.5])
def test_ft_matches_float64_reference(shape, weight):
    torch.manual_seed(1)
    s, t = torch.randn(shape), torch.randn(shape)
    got = FTLoss(loss_weight=weight)(s, t).item()
    assert got == pytest.approx(weight * plain_ft(s, t), rel=1e-6)


def test_scale_invariance_and_zero():
    t = torch.randn(2, 3, 4, 4)
    assert ATLoss()(3 * t, t).item() == pytest.approx(0.0, abs=1e-7)
    assert FTLoss()(3 * t, t).item() == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize('loss', [ATLoss(), FTLoss()])
def test_gradient_reaches_student_only(loss):
    s = torch.randn(2, 3, 4, 4, requires_grad=True)
    t = torch.randn(2, 3, 4, 4, requires_grad=True)
    loss(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_bad_inputs():
    with pytest.raises(ValueError, match=r'ATLoss: s_feature \(2, 3, 4, 4\) and t_feature '
                       r'\(2, 3, 8, 8\).*same N and H x W'):
        ATLoss()(torch.randn(2, 3, 4, 4), torch.randn(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r'ATLoss: s_feature \(2, 3, 4, 4\) and t_feature '
                       r'\(3, 3, 4, 4\)'):
        ATLoss()(torch.randn(2, 3, 4, 4), torch.randn(3, 3, 4, 4))
    with pytest.raises(ValueError, match=r'FTLoss: s_feature \(2, 3, 4, 4\) and t_feature '
                       r'\(2, 6, 4, 4\)'):
        FTLoss()(torch.randn(2, 3, 4, 4), torch.randn(2, 6, 4, 4))


def test_build_from_registry():
    assert MODELS.build(dict(type='ATLoss', loss_weight=250.0)).loss_weight == 250.0
    assert isinstance(MODELS.build(dict(type='FTLoss')), FTLoss)
