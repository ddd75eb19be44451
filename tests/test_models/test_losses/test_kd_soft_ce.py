import math

import pytest
import torch

from cankd.models.losses import KDSoftCELoss
from cankd.registry import MODELS


def plain_ce(s, t, tau=1.0):
    """Per-sample soft cross-entropy -sum_c p_T log p_S (classes last), Python floats."""
    out = []
    for row_s, row_t in zip(s.double().tolist(), t.double().tolist()):
        zs = math.log(sum(math.exp(v / tau) for v in row_s))
        zt = sum(math.exp(v / tau) for v in row_t)
        out.append(-sum(math.exp(b / tau) / zt * (a / tau - zs) for a, b in zip(row_s, row_t)))
    return out


@pytest.mark.parametrize('tau,square', [(1.0, True), (4.0, True), (4.0, False)])
@pytest.mark.parametrize('reduction', ['mean', 'sum'])
def test_matches_float64_reference(tau, square, reduction):
    torch.manual_seed(0)
    s, t = torch.randn(6, 9) * 2, torch.randn(6, 9) * 2
    ce = plain_ce(s, t, tau)
    ref = (sum(ce) / len(ce) if reduction == 'mean' else sum(ce)) * 1.5
    ref *= tau**2 if square else 1
    got = KDSoftCELoss(tau=tau, reduction=reduction, mult_tem_square=square,
                       loss_weight=1.5)(s, t).item()
    assert got == pytest.approx(ref, rel=1e-6)


def test_weight_avg_factor_and_override():
    torch.manual_seed(1)
    s, t, w = torch.randn(5, 4), torch.randn(5, 4), torch.rand(5)
    ce = [c * wi for c, wi in zip(plain_ce(s, t, 2.0), w.tolist())]
    loss = KDSoftCELoss(tau=2.0)
    assert loss(s, t, weight=w).item() == pytest.approx(4 * sum(ce) / 5, rel=1e-6)
    # avg_factor replaces the sample count of 'mean' (mmcls weight_reduce_loss)
    assert loss(s, t, weight=w, avg_factor=2.5).item() == pytest.approx(4 * sum(ce) / 2.5,
                                                                        rel=1e-6)
    assert loss(s, t, weight=w, reduction_override='sum').item() == pytest.approx(
        4 * sum(ce), rel=1e-6)
    out = loss(s, t, weight=w, reduction_override='none')
    assert out.shape == (5, )
    assert out.tolist() == pytest.approx([4 * c for c in ce], rel=1e-6)


def test_classes_on_last_dim():
    torch.manual_seed(2)
    s, t = torch.randn(2, 3, 6), torch.randn(2, 3, 6)
    got = KDSoftCELoss(reduction='none')(s, t)
    assert got.shape == (2, 3)
    flat = KDSoftCELoss(reduction='none')(s.reshape(6, 6), t.reshape(6, 6))
    assert torch.allclose(got.reshape(6), flat)


def test_gradient_reaches_student_only():
    s = torch.randn(4, 5, requires_grad=True)
    t = torch.randn(4, 5, requires_grad=True)
    KDSoftCELoss(tau=2)(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"reduction must be one of \['none', 'mean', 'sum', "
                       r"None\], got 'batchmean'"):
        KDSoftCELoss(reduction='batchmean')
    s, t = torch.randn(2, 3), torch.randn(2, 3)
    with pytest.raises(ValueError, match="reduction_override must be one of"):
        KDSoftCELoss()(s, t, reduction_override='batchmean')
    with pytest.raises(ValueError, match='reduction is None; pass reduction_override'):
        KDSoftCELoss(reduction=None)(s, t)
    assert KDSoftCELoss(reduction=None)(s, t, reduction_override='sum').dim() == 0
    with pytest.raises(ValueError, match="avg_factor needs reduction 'mean' or 'none'"):
        KDSoftCELoss(reduction='sum')(s, t, avg_factor=2)
    with pytest.raises(ValueError, match=r'preds_S \(2, 3\) and preds_T \(2, 4\)'):
        KDSoftCELoss()(s, torch.randn(2, 4))


def test_build_from_registry():
    loss = MODELS.build(dict(type='KDSoftCELoss', tau=4, mult_tem_square=False))
    assert isinstance(loss, KDSoftCELoss)
    assert (loss.tau, loss.mult_tem_square, loss.reduction) == (4, False, 'mean')
