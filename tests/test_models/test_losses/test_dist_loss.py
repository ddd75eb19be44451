import math

import pytest
import torch

from cankd.models.losses import DISTLoss
from cankd.registry import MODELS


def pearson(a, b):
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    num = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    den = math.sqrt(sum((x - ma)**2 for x in a)) * math.sqrt(sum((y - mb)**2 for y in b))
    return num / (den + 1e-8)  # mmrazor adds 1e-8 to the denominator


def plain_dist(s, t, tau=1.0, inter_w=1.0, intra_w=1.0):
    """DIST (arXiv 2205.10536) on N x C logits in Python floats: softmax(x / tau)
    per sample; inter = 1 - mean over samples of the Pearson r across classes,
    intra = 1 - mean over classes of the Pearson r across the batch."""
    def soft(row):
        e = [math.exp(v / tau) for v in row]
        return [v / sum(e) for v in e]
    ys = [soft(r) for r in s.double().tolist()]
    yt = [soft(r) for r in t.double().tolist()]
    inter = 1 - sum(pearson(a, b) for a, b in zip(ys, yt)) / len(ys)
    cols = range(len(ys[0]))
    intra = 1 - sum(pearson([r[c] for r in ys], [r[c] for r in yt]) for c in cols) / len(cols)
    return tau**2 * (inter_w * inter + intra_w * intra)


@pytest.mark.parametrize('tau,inter_w,intra_w,weight', [(1.0, 1.0, 1.0, 1.0),
                                                        (4.0, 2.0, 0.5, 3.0)])
def test_matches_float64_reference(tau, inter_w, intra_w, weight):
    torch.manual_seed(0)
    s, t = torch.randn(8, 10) * 2, torch.randn(8, 10) * 2
    got = DISTLoss(inter_loss_weight=inter_w, intra_loss_weight=intra_w, tau=tau,
                   loss_weight=weight)(s, t).item()
    assert got == pytest.approx(weight * plain_dist(s, t, tau, inter_w, intra_w), rel=1e-6)


def test_dense_inputs_per_pixel():
    """N x C x H x W (mmrazor's ops allow it): inter per pixel, intra per
    (class, pixel) over the batch, averaged."""
    torch.manual_seed(1)
    s, t = torch.randn(3, 5, 2, 2), torch.randn(3, 5, 2, 2)
    got = DISTLoss(intra_loss_weight=0.0)(s, t).item()
    pix = [plain_dist(s[:, :, i, j], t[:, :, i, j], intra_w=0.0) for i in range(2)
           for j in range(2)]
    assert got == pytest.approx(sum(pix) / 4, rel=1e-6)
    got = DISTLoss(inter_loss_weight=0.0)(s, t).item()
    pix = [plain_dist(s[:, :, i, j], t[:, :, i, j], inter_w=0.0) for i in range(2)
           for j in range(2)]
    assert got == pytest.approx(sum(pix) / 4, rel=1e-6)


def test_zero_when_equal_and_gradient_to_student_only():
    t = torch.randn(4, 6)
    assert DISTLoss()(t.clone(), t).item() == pytest.approx(0.0, abs=1e-6)
    s = torch.randn(4, 6, requires_grad=True)
    t.requires_grad_()
    DISTLoss(tau=2)(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_bad_inputs():
    with pytest.raises(ValueError, match='tau must be > 0'):
        DISTLoss(tau=0)
    with pytest.raises(ValueError, match=r'logits_S \(2, 3\) and logits_T \(2, 4\)'):
        DISTLoss()(torch.randn(2, 3), torch.randn(2, 4))


def test_build_from_registry():
    loss = MODELS.build(dict(type='DISTLoss', inter_loss_weight=1.0, intra_loss_weight=1.0,
                             tau=1, loss_weight=1))
    assert isinstance(loss, DISTLoss) and loss.teacher_detach
