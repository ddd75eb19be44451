import math

import pytest
import torch

from cankd.models.losses import ChannelWiseDivergence
from cankd.registry import MODELS


def plain_cwd(s, t, tau=1.0, loss_weight=1.0):
    """sum over (n, c) of KL(softmax(t/tau) || softmax(s/tau)) * tau^2 / (C N), in Python."""
    N, C = s.shape[:2]
    total = 0.0
    for n in range(N):
        for c in range(C):
            xs = [v / tau for v in s[n, c].flatten().tolist()]
            xt = [v / tau for v in t[n, c].flatten().tolist()]
            zs = sum(math.exp(v) for v in xs)
            zt = sum(math.exp(v) for v in xt)
            for a, b in zip(xs, xt):
                p_t = math.exp(b) / zt
                total += p_t * (math.log(p_t) - math.log(math.exp(a) / zs))
    return loss_weight * total * tau**2 / (C * N)


def test_hand_value_two_positions():
    # p_T = [1/4, 3/4], p_S = [1/2, 1/2]
    s = torch.zeros(1, 1, 1, 2)
    t = torch.tensor([0., math.log(3)]).reshape(1, 1, 1, 2)
    kl = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert ChannelWiseDivergence()(s, t).item() == pytest.approx(kl, rel=1e-6)
    # tau = 2 halves the logits; weight 3; tau^2 = 4; C * N = 1
    p = 1 / (1 + math.sqrt(3))
    kl2 = p * math.log(p / 0.5) + (1 - p) * math.log((1 - p) / 0.5)
    assert ChannelWiseDivergence(tau=2, loss_weight=3)(s, t).item() == pytest.approx(
        3 * 4 * kl2, rel=1e-6)


@pytest.mark.parametrize('tau,weight', [(1.0, 1.0), (4.0, 3.0), (0.5, 0.2)])
def test_matches_plain_reference(tau, weight):
    torch.manual_seed(0)
    s, t = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    got = ChannelWiseDivergence(tau=tau, loss_weight=weight)(s, t).item()
    assert got == pytest.approx(plain_cwd(s, t, tau, weight), rel=1e-5)


def test_zero_when_equal_and_shift_invariant():
    t = torch.randn(2, 3, 4, 4)
    loss = ChannelWiseDivergence()
    assert loss(t.clone(), t).item() == pytest.approx(0.0, abs=1e-6)
    # softmax over positions ignores a per-channel offset
    assert loss(t + torch.randn(2, 3, 1, 1), t).item() == pytest.approx(0.0, abs=1e-5)


def test_gradient_reaches_student_only():
    s = torch.randn(2, 3, 4, 4, requires_grad=True)
    t = torch.randn(2, 3, 4, 4, requires_grad=True)
    ChannelWiseDivergence()(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_bad_inputs():
    loss = ChannelWiseDivergence()
    with pytest.raises(ValueError, match=r'\(2, 3, 4, 4\).*\(2, 6, 4, 4\).*ConvModuleConnector'):
        loss(torch.randn(2, 3, 4, 4), torch.randn(2, 6, 4, 4))
    with pytest.raises(ValueError, match=r'\(2, 3, 8, 8\).*\(2, 3, 4, 4\)'):
        loss(torch.randn(2, 3, 8, 8), torch.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match='tau'):
        ChannelWiseDivergence(tau=0)


def test_build_from_registry():
    loss = MODELS.build(dict(type='ChannelWiseDivergence', tau=1, loss_weight=3))
    assert isinstance(loss, ChannelWiseDivergence)
    assert (loss.tau, loss.loss_weight) == (1, 3)
    s, t = torch.randn(1, 2, 3, 3), torch.randn(1, 2, 3, 3)
    assert loss(s, t).item() == pytest.approx(3 * ChannelWiseDivergence()(s, t).item(), rel=1e-6)
