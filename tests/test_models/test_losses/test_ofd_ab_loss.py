import pytest
import torch

from cankd.models.losses import ABLoss, OFDLoss
from cankd.registry import MODELS


def plain_ofd(s, t, mul_factor=1000.0):
    """OFD's partial L2 in Python floats: (s - t)^2 wherever s > t or t > 0,
    summed, divided by the batch size and mul_factor."""
    total = sum((a - b)**2 for a, b in zip(s.double().flatten().tolist(),
                                           t.double().flatten().tolist()) if a > b or b > 0)
    return total / s.shape[0] / mul_factor


def plain_ab(s, t, margin=1.0):
    """The AB paper's alternative squared-hinge loss in Python floats: a
    neuron the teacher switches off (t <= 0) pulls the student below -margin,
    one it switches on (t > 0) pushes it above +margin; summed, / N * 3 / 1000."""
    total = 0.0
    for a, b in zip(s.double().flatten().tolist(), t.double().flatten().tolist()):
        if b <= 0 and a > -margin:
            total += (a + margin)**2
        elif b > 0 and a <= margin:
            total += (a - margin)**2
    return total / s.shape[0] * 3 / 1000


@pytest.mark.parametrize('shape', [(2, 4, 5, 6), (4, 10)])
@pytest.mark.parametrize('weight,mul_factor', [(1.0, 1000.0), (0.25, 10.0)])
def test_ofd_matches_float64_reference(shape, weight, mul_factor):
    torch.manual_seed(0)
    s, t = torch.randn(shape), torch.randn(shape)
    got = OFDLoss(loss_weight=weight, mul_factor=mul_factor)(s, t).item()
    assert got == pytest.approx(weight * plain_ofd(s, t, mul_factor), rel=1e-6)


@pytest.mark.parametrize('shape', [(2, 4, 5, 6), (4, 10)])
@pytest.mark.parametrize('weight,margin', [(1.0, 1.0), (0.125, 0.5)])
def test_ab_matches_float64_reference(shape, weight, margin):
    torch.manual_seed(1)
    s, t = torch.randn(shape) * 2, torch.randn(shape)
    got = ABLoss(loss_weight=weight, margin=margin)(s, t).item()
    assert got == pytest.approx(weight * plain_ab(s, t, margin), rel=1e-6)


def test_hand_values():
    t = torch.tensor([[-1.0, -1.0, 2.0]])
    s = torch.tensor([[-2.0, 0.0, 1.0]])
    # OFD: first position free (s < t <= 0); others 1^2 + 1^2
    assert OFDLoss(mul_factor=1.0)(s, t).item() == pytest.approx(2.0)
    # AB margin 1: -2 already below -1 (free); 0 -> (0 + 1)^2; 1 <= 1 -> (1 - 1)^2
    assert ABLoss()(s, t).item() == pytest.approx(1.0 * 3 / 1000)


@pytest.mark.parametrize('loss', [OFDLoss(), ABLoss()])
def test_gradient_reaches_student_only(loss):
    s = torch.randn(2, 3, 4, 4, requires_grad=True)
    t = torch.randn(2, 3, 4, 4, requires_grad=True)
    loss(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


@pytest.mark.parametrize('loss', [OFDLoss(), ABLoss()])
def test_bad_inputs(loss):
    name = type(loss).__name__
    with pytest.raises(ValueError, match=rf'{name}: s_feature \(2, 3, 4, 4\) and t_feature '
                       r'\(2, 6, 4, 4\).*ConvModuleConnector'):
        loss(torch.randn(2, 3, 4, 4), torch.randn(2, 6, 4, 4))


def test_build_from_registry():
    assert MODELS.build(dict(type='OFDLoss', loss_weight=0.25)).mul_factor == 1000.0
    assert MODELS.build(dict(type='ABLoss', loss_weight=0.5)).margin == 1.0
