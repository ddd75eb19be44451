import math

import pytest
import torch

from cankd.models.losses import FBKDLoss
from cankd.registry import MODELS

N, C, H, W = 2, 6, 5, 4


def inputs(seed=0, grad=False):
    g = torch.Generator().manual_seed(seed)

    def r(*shape, pos=False):
        x = torch.rand(*shape, generator=g) if pos else torch.randn(*shape, generator=g)
        return x.requires_grad_(grad)
    s = (r(N, 1, H, W, pos=True), r(N, C, 1, 1, pos=True), r(N, C), r(N, 1, H, W),
         r(N, C, H, W), r(N, C, H, W))
    t = (r(N, 1, H, W, pos=True), r(N, C, 1, 1, pos=True), r(N, 1, H, W), r(N, C, H, W),
         r(N, C, H, W))
    return s, t


def plain_fbkd(s, t, w=(7e-5, 4e-3, 4e-3, 7e-5)):
    """FBKD's four terms in Python floats (ICLR 2021, official code's sums):
    sqrt of the spatial-attention-weighted squared feature difference; L2
    distances of channel pools, spatial pools and non-local relations."""
    s_mask, _, s_cpool, s_spool, s_rel, s_feat = [x.double().tolist() for x in s]
    t_mask, _, t_spool, t_rel, t_feat = [x.double().tolist() for x in t]
    feat = chan = 0.0
    for n in range(N):
        for c in range(C):
            mean_t = sum(t_feat[n][c][h][x] for h in range(H) for x in range(W)) / (H * W)
            chan += (mean_t - s_cpool[n][c])**2
            for h in range(H):
                for x in range(W):
                    m = (t_mask[n][0][h][x] + s_mask[n][0][h][x]) / 2
                    feat += m * (t_feat[n][c][h][x] - s_feat[n][c][h][x])**2
    spat = sum((t_spool[n][0][h][x] - s_spool[n][0][h][x])**2 for n in range(N)
               for h in range(H) for x in range(W))
    rel = sum((t_rel[n][c][h][x] - s_rel[n][c][h][x])**2 for n in range(N) for c in range(C)
              for h in range(H) for x in range(W))
    return (w[0] * math.sqrt(feat) + w[1] * math.sqrt(chan) + w[2] * math.sqrt(spat)
            + w[3] * math.sqrt(rel))


@pytest.mark.parametrize('weights,loss_weight', [((7e-5, 4e-3, 4e-3, 7e-5), 1.0),
                                                 ((1.0, 2.0, 3.0, 4.0), 0.5)])
def test_matches_float64_reference(weights, loss_weight):
    s, t = inputs()
    loss = FBKDLoss(*weights, loss_weight=loss_weight)
    got = loss(s, t).item()
    assert got == pytest.approx(loss_weight * plain_fbkd(s, t, weights), rel=1e-6)
    # list inputs (what a connector may return) work the same
    assert loss(list(s), list(t)).item() == pytest.approx(got, rel=1e-7)


def test_each_term_alone():
    s, t = inputs(1)
    d = lambda a, b: (a.double() - b.double()).pow(2).sum().sqrt().item()  # noqa: E731
    assert FBKDLoss(0, 1, 0, 0)(s, t).item() == pytest.approx(
        d(t[4].mean((2, 3)), s[2]), rel=1e-6)
    assert FBKDLoss(0, 0, 1, 0)(s, t).item() == pytest.approx(d(t[2], s[3]), rel=1e-6)
    assert FBKDLoss(0, 0, 0, 1)(s, t).item() == pytest.approx(d(t[3], s[4]), rel=1e-6)
    # channel masks are unused (as in mmrazor and the official code)
    s2 = (s[0], s[1] * 5) + s[2:]
    t2 = (t[0], t[1] * 5) + t[2:]
    assert FBKDLoss()(s2, t2).item() == pytest.approx(FBKDLoss()(s, t).item(), rel=1e-7)


def test_gradients():
    """Student outputs get gradients; the attention masks (detached, as mmrazor)
    and the plain teacher features do not; t_relation does, because it comes
    out of the teacher connector's trainable non-local block (mmrazor trains it)."""
    s, t = inputs(2, grad=True)
    FBKDLoss(1, 1, 1, 1)(s, t).backward()
    for name, x in zip(('s_channel_pool_adapt', 's_spatial_pool_adapt', 's_relation_adapt',
                        's_feat_adapt'), s[2:]):
        assert x.grad is not None and x.grad.abs().sum() > 0, name
    assert s[0].grad is None and s[1].grad is None
    assert t[0].grad is None and t[1].grad is None
    assert t[2].grad is None and t[4].grad is None       # t_spatial_pool, t_feat
    assert t[3].grad is not None and t[3].grad.abs().sum() > 0  # t_relation


def test_with_fbkd_connectors():
    """End to end with the FBKD connectors (cankd/models/connectors/fbkd_*)."""
    torch.manual_seed(0)
    kw = dict(in_channels=8, reduction=4, mode='dot_product', sub_sample=True)
    s_conn = MODELS.build(dict(type='FBKDStudentConnector', **kw))
    t_conn = MODELS.build(dict(type='FBKDTeacherConnector', **kw))
    s_feat = torch.randn(2, 8, 8, 8, requires_grad=True)
    loss = FBKDLoss()(s_conn(s_feat), t_conn(torch.randn(2, 8, 8, 8)))
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert s_feat.grad is not None and s_feat.grad.abs().sum() > 0


def test_bad_inputs():
    s, t = inputs()
    with pytest.raises(ValueError, match=r"s_input must be the 6-tuple \('s_spatial_mask', "
                       r".*got 5 items; map s_input through an FBKDStudentConnector"):
        FBKDLoss()(s[:5], t)
    with pytest.raises(ValueError, match=r't_input must be the 5-tuple .*got a tensor '
                       r'\(2, 6, 5, 4\); map t_input through an FBKDTeacherConnector'):
        FBKDLoss()(s, t[4])
    with pytest.raises(ValueError, match=r't_feat \(2, 6, 5, 4\) and s_feat_adapt \(2, 3, 5, 4\)'):
        FBKDLoss()(s[:5] + (torch.randn(2, 3, 5, 4), ), t)


def test_build_from_registry():
    loss = MODELS.build(dict(type='FBKDLoss'))
    assert isinstance(loss, FBKDLoss)
    assert (loss.mask_l2_weight, loss.channel_weight, loss.spatial_weight,
            loss.nonloacl_weight, loss.loss_weight) == (7e-5, 4e-3, 4e-3, 7e-5, 1.0)
