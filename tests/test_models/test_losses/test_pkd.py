import math
import statistics

import pytest
import torch
import torch.nn.functional as F

from cankd.models.losses import PKDLoss
from cankd.registry import MODELS


def plain_pkd_level(s, t):
    """Per channel: standardise over (N, H, W) (sample std + 1e-6), then MSE / 2."""
    N, C = s.shape[:2]
    total, count = 0.0, 0
    for c in range(C):
        xs = s[:, c].flatten().tolist()
        xt = t[:, c].flatten().tolist()
        ms, mt = statistics.fmean(xs), statistics.fmean(xt)
        ss, st = statistics.stdev(xs) + 1e-6, statistics.stdev(xt) + 1e-6
        for a, b in zip(xs, xt):
            total += ((a - ms) / ss - (b - mt) / st)**2
            count += 1
    return total / count / 2


def test_pearson_extremes():
    torch.manual_seed(0)
    s = torch.randn(2, 3, 4, 4)
    n = 2 * 4 * 4
    # positive affine map per channel: correlation 1 -> loss 0
    t = 2.5 * s + torch.tensor([1., -2., 3.]).reshape(1, 3, 1, 1)
    assert PKDLoss()(s, t).item() == pytest.approx(0.0, abs=1e-5)
    # negated: r = -1 -> (1 - r) (n - 1) / n = 2 (n - 1) / n
    assert PKDLoss()(s, -s).item() == pytest.approx(2 * (n - 1) / n, rel=1e-4)


def test_matches_plain_reference_and_weight():
    torch.manual_seed(1)
    s, t = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    assert PKDLoss()(s, t).item() == pytest.approx(plain_pkd_level(s, t), rel=1e-5)
    assert PKDLoss(loss_weight=6)(s, t).item() == pytest.approx(
        6 * plain_pkd_level(s, t), rel=1e-5)


def test_tuple_of_levels_is_summed():
    torch.manual_seed(2)
    s = (torch.randn(2, 4, 8, 8), torch.randn(2, 4, 4, 4))
    t = (torch.randn(2, 4, 8, 8), torch.randn(2, 4, 4, 4))
    expected = sum(plain_pkd_level(a, b) for a, b in zip(s, t))
    assert PKDLoss(loss_weight=2)(s, t).item() == pytest.approx(2 * expected, rel=1e-5)
    assert PKDLoss()(list(s), list(t)).item() == pytest.approx(expected, rel=1e-5)


def test_resize_direction():
    torch.manual_seed(3)
    s, t = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 8, 6)
    up = F.interpolate(s, (8, 6), mode='bilinear', align_corners=False)
    down = F.interpolate(t, (4, 4), mode='bilinear', align_corners=False)
    assert PKDLoss()(s, t).item() == pytest.approx(plain_pkd_level(up, t), rel=1e-5)
    assert PKDLoss(resize_stu=False)(s, t).item() == pytest.approx(
        plain_pkd_level(s, down), rel=1e-5)


def test_gradient_reaches_student_only():
    s = torch.randn(2, 3, 4, 4, requires_grad=True)
    t = torch.randn(2, 3, 8, 8, requires_grad=True)
    PKDLoss(resize_stu=False)(s, t).backward()  # even when the teacher is resized
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_bad_inputs():
    loss = PKDLoss()
    with pytest.raises(ValueError, match=r'\(2, 3, 4, 4\).*\(2, 8, 4, 4\).*ConvModuleConnector'):
        loss(torch.randn(2, 3, 4, 4), torch.randn(2, 8, 4, 4))
    with pytest.raises(ValueError, match='2 student levels but 3 teacher levels'):
        loss((torch.randn(1, 2, 4, 4), ) * 2, (torch.randn(1, 2, 4, 4), ) * 3)
    with pytest.raises(ValueError, match='both be tensors or both tuples'):
        loss(torch.randn(1, 2, 4, 4), (torch.randn(1, 2, 4, 4), ))


def test_build_from_registry():
    loss = MODELS.build(dict(type='PKDLoss', loss_weight=6, resize_stu=False))
    assert isinstance(loss, PKDLoss) and loss.loss_weight == 6 and not loss.resize_stu
    assert math.isfinite(loss(torch.randn(1, 2, 4, 4), torch.randn(1, 2, 4, 4)).item())
