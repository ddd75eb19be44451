import math

import pytest
import torch

from cankd.models.losses import KLDivergence
from cankd.registry import MODELS


def softmax(xs):
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    return [v / sum(e) for v in e]


def plain_kl(s, t, tau=1.0, reduction='batchmean', loss_weight=1.0):
    """Hinton KD in Python floats: for each sample (and pixel) the class
    distributions softmax(x / tau) over dim 1, sum p_T log(p_T / p_S),
    times tau^2, then mmrazor's reduction."""
    s, t = s.double(), t.double()
    N, C = s.shape[:2]
    rest = s[0, 0].numel()
    sf, tf = s.reshape(N, C, rest), t.reshape(N, C, rest)
    total = 0.0
    for n in range(N):
        for r in range(rest):
            p_s = softmax([v / tau for v in sf[n, :, r].tolist()])
            p_t = softmax([v / tau for v in tf[n, :, r].tolist()])
            total += sum(b * math.log(b / a) for a, b in zip(p_s, p_t))
    denom = {'batchmean': N, 'sum': 1, 'mean': s.numel()}[reduction]
    return loss_weight * tau**2 * total / denom


@pytest.mark.parametrize('shape', [(4, 7), (2, 5, 3, 4)])
@pytest.mark.parametrize('tau,reduction,weight', [(1.0, 'batchmean', 1.0), (4.0, 'sum', 2.0),
                                                  (0.5, 'mean', 3.0)])
def test_matches_float64_reference(shape, tau, reduction, weight):
    torch.manual_seed(0)
    s, t = torch.randn(shape) * 3, torch.randn(shape) * 3
    got = KLDivergence(tau=tau, reduction=reduction, loss_weight=weight)(s, t).item()
    assert got == pytest.approx(plain_kl(s, t, tau, reduction, weight), rel=1e-6)


def test_reduction_none_is_elementwise():
    torch.manual_seed(1)
    s, t = torch.randn(3, 5, 2, 2), torch.randn(3, 5, 2, 2)
    out = KLDivergence(tau=2.0, reduction='none', loss_weight=3.0)(s, t)
    assert out.shape == s.shape
    assert out.sum().item() == pytest.approx(
        plain_kl(s, t, 2.0, 'sum', 3.0), rel=1e-6)


def test_hand_value():
    # p_T = [1/4, 3/4], p_S = [1/2, 1/2]; batchmean over N = 1
    s, t = torch.zeros(1, 2), torch.tensor([[0., math.log(3)]])
    kl = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    assert KLDivergence()(s, t).item() == pytest.approx(kl, rel=1e-6)
    assert KLDivergence()(t, t).item() == pytest.approx(0.0, abs=1e-7)


def test_gradient_reaches_student_only():
    s = torch.randn(2, 4, 3, 3, requires_grad=True)
    t = torch.randn(2, 4, 3, 3, requires_grad=True)
    KLDivergence(tau=2)(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None
    # teacher_detach=False (mmrazor's option for data-free distillation)
    t2 = t.detach().clone().requires_grad_()
    KLDivergence(teacher_detach=False)(s, t2).backward()
    assert t2.grad is not None and t2.grad.abs().sum() > 0


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"reduction must be one of \['none', 'batchmean', "
                       r"'sum', 'mean'\], got 'avg'"):
        KLDivergence(reduction='avg')
    with pytest.raises(ValueError, match='tau must be > 0'):
        KLDivergence(tau=0)
    with pytest.raises(ValueError, match=r'preds_S \(2, 3\) and preds_T \(2, 4\)'):
        KLDivergence()(torch.randn(2, 3), torch.randn(2, 4))


def test_build_from_registry():
    loss = MODELS.build(dict(type='KLDivergence', tau=4, loss_weight=2, reduction='sum'))
    assert isinstance(loss, KLDivergence)
    assert (loss.tau, loss.loss_weight, loss.reduction, loss.teacher_detach) == (4, 2, 'sum', True)
