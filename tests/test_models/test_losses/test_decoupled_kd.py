import math

import pytest
import torch

from cankd.models.losses import DKDLoss
from cankd.registry import MODELS


def softmax(xs):
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    return [v / sum(e) for v in e]


def kl(p, q):
    return sum(a * math.log(a / b) for a, b in zip(p, q) if a > 0)


def plain_dkd(s, t, labels, tau=1.0, alpha=1.0, beta=1.0):
    """The paper's DKD summed over samples, Python floats: TCKD on the binary
    (target, non-target) split, NCKD on the distribution over the non-target
    classes alone (the target class dropped, the rest renormalised)."""
    total = 0.0
    for row_s, row_t, y in zip(s.double().tolist(), t.double().tolist(), labels.tolist()):
        p_s = softmax([v / tau for v in row_s])
        p_t = softmax([v / tau for v in row_t])
        tckd = kl([p_t[y], 1 - p_t[y]], [p_s[y], 1 - p_s[y]])
        q_s = softmax([v / tau for c, v in enumerate(row_s) if c != y])
        q_t = softmax([v / tau for c, v in enumerate(row_t) if c != y])
        total += alpha * tckd + beta * kl(q_t, q_s)
    return tau**2 * total


@pytest.mark.parametrize('tau,alpha,beta,weight', [(1.0, 1.0, 1.0, 1.0), (4.0, 1.0, 8.0, 1.0),
                                                   (2.0, 0.5, 2.0, 3.0)])
def test_matches_float64_reference(tau, alpha, beta, weight):
    torch.manual_seed(0)
    s, t = torch.randn(6, 10) * 3, torch.randn(6, 10) * 3
    y = torch.randint(0, 10, (6, ))
    got = DKDLoss(tau=tau, alpha=alpha, beta=beta, loss_weight=weight)(s, t, y).item()
    assert got == pytest.approx(weight * plain_dkd(s, t, y, tau, alpha, beta) / 6, rel=1e-6)


def test_reduction_quirk_of_mmrazor():
    """mmrazor's F.kl_div call passes size_average=False, which makes torch sum:
    only 'batchmean' divides (by N); 'none', 'mean' and 'sum' all return the sum."""
    torch.manual_seed(1)
    s, t, y = torch.randn(5, 7), torch.randn(5, 7), torch.randint(0, 7, (5, ))
    ref = plain_dkd(s, t, y, 2.0)
    for reduction in ('none', 'mean', 'sum'):
        out = DKDLoss(tau=2.0, reduction=reduction)(s, t, y)
        assert out.dim() == 0 and out.item() == pytest.approx(ref, rel=1e-6)
    assert DKDLoss(tau=2.0)(s, t, y).item() == pytest.approx(ref / 5, rel=1e-6)


def test_labels_any_shape_of_n_and_zero_when_equal():
    torch.manual_seed(2)
    s, t, y = torch.randn(4, 6), torch.randn(4, 6), torch.randint(0, 6, (4, ))
    assert DKDLoss()(s, t, y.reshape(4, 1)).item() == pytest.approx(DKDLoss()(s, t, y).item())
    assert DKDLoss()(t.clone(), t, y).item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_reaches_student_only():
    s = torch.randn(4, 5, requires_grad=True)
    t = torch.randn(4, 5, requires_grad=True)
    DKDLoss(tau=4, beta=8)(s, t, torch.tensor([0, 1, 2, 3])).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_bad_inputs():
    s, t = torch.randn(2, 3), torch.randn(2, 3)
    with pytest.raises(ValueError, match=r"reduction must be one of \['none', 'batchmean', "
                       r"'sum', 'mean'\], got 'avg'"):
        DKDLoss(reduction='avg')
    with pytest.raises(ValueError, match='tau must be > 0'):
        DKDLoss(tau=-1)
    with pytest.raises(ValueError, match=r'preds_S \(2, 3, 4, 4\) and preds_T \(2, 3, 4, 4\) '
                       r'must have the same shape with 2 dimensions'):
        DKDLoss()(torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r'gt_labels must hold N=2 integer class indices, got '
                       r'torch.int64 of shape \(3,\)'):
        DKDLoss()(s, t, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match='gt_labels must hold N=2 integer'):
        DKDLoss()(s, t, torch.tensor([0., 1.]))
    with pytest.raises(ValueError, match=r'gt_labels must lie in \[0, 2\], got 0..3'):
        DKDLoss()(s, t, torch.tensor([0, 3]))


def test_build_from_registry():
    loss = MODELS.build(dict(type='DKDLoss', tau=1, beta=0.5, loss_weight=1.0))
    assert isinstance(loss, DKDLoss)
    assert (loss.tau, loss.alpha, loss.beta, loss.reduction) == (1, 1.0, 0.5, 'batchmean')
