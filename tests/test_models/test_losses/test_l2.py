import math

import pytest
import torch

from cankd.models.losses import L2Loss
from cankd.registry import MODELS


def plain_l2(s, t, loss_weight=1.0, normalize=True, mult=1.0, div_element=False, dist=False):
    """Element-by-element reference in plain Python."""
    rows_s = s.reshape(s.shape[0], -1).tolist()
    rows_t = t.reshape(t.shape[0], -1).tolist()
    total = 0.0
    for rs, rt in zip(rows_s, rows_t):
        if normalize:
            ns = math.sqrt(sum(v * v for v in rs))
            nt = math.sqrt(sum(v * v for v in rt))
            rs = [mult * v / ns for v in rs]
            rt = [mult * v / nt for v in rt]
        total += sum((a - b)**2 for a, b in zip(rs, rt))
    if dist:
        total = math.sqrt(total)
    elif div_element:
        total /= s.numel()
    else:
        total /= s.shape[0]
    return loss_weight * total


def test_hand_values():
    s, t = torch.tensor([[3., 4.]]), torch.tensor([[0., 5.]])
    assert L2Loss(normalize=False)(s, t).item() == pytest.approx(10.0)
    assert L2Loss(normalize=False, div_element=True)(s, t).item() == pytest.approx(5.0)
    assert L2Loss(normalize=False, dist=True)(s, t).item() == pytest.approx(math.sqrt(10))
    # normalised: [.6, .8] vs [0, 1] -> .36 + .04 = .4; mult 2 -> 1.6; weight 3 -> 4.8
    assert L2Loss()(s, t).item() == pytest.approx(0.4)
    assert L2Loss(loss_weight=3, mult=2)(s, t).item() == pytest.approx(4.8)


@pytest.mark.parametrize('kwargs', [
    dict(), dict(normalize=False), dict(div_element=True), dict(dist=True),
    dict(loss_weight=0.5, mult=3.0)])
def test_matches_plain_reference_4d(kwargs):
    torch.manual_seed(0)
    s, t = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    assert L2Loss(**kwargs)(s, t).item() == pytest.approx(plain_l2(s, t, **kwargs), rel=1e-5)


def test_gradient_reaches_student_only():
    s = torch.randn(2, 3, 4, 4, requires_grad=True)
    t = torch.randn(2, 3, 4, 4, requires_grad=True)
    L2Loss()(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_shape_mismatch_names_shapes_and_connector():
    with pytest.raises(ValueError, match=r'\(2, 3, 4, 4\).*\(2, 5, 4, 4\).*ConvModuleConnector'):
        L2Loss()(torch.randn(2, 3, 4, 4), torch.randn(2, 5, 4, 4))


def test_build_from_registry():
    loss = MODELS.build(dict(type='L2Loss', loss_weight=2.0, normalize=False))
    assert isinstance(loss, L2Loss)
    s, t = torch.tensor([[1., 1.]]), torch.zeros(1, 2)
    assert loss(s, t).item() == pytest.approx(4.0)
