import math

import pytest
import torch

from cankd.models.losses import ACAMKDLoss
from cankd.models.losses.acam_kd import dice_diversity
from cankd.registry import MODELS


def conv1x1(x, conv):
    out = torch.einsum('oc,nchw->nohw', conv.weight[:, :, 0, 0], x)
    return out + conv.bias[None, :, None, None]


def plain_fused(loss, query_src, kv_src):
    """softmax(Q^T K / sqrt(C_q)) V^T with an explicit L x L attention matrix."""
    N, C = kv_src.shape[:2]
    q = conv1x1(query_src, loss.query).flatten(2)  # N x Cq x L
    k = conv1x1(kv_src, loss.key).flatten(2)
    v = conv1x1(kv_src, loss.value).flatten(2)     # N x C x L
    attn = torch.softmax(torch.einsum('ncl,ncm->nlm', q, k) / math.sqrt(q.shape[1]), dim=-1)
    return torch.einsum('nlm,ncm->nlc', attn, v)   # N x L x C


def plain_masks(loss, s, t):
    """(aligned student, channel masks N x M x C, spatial masks N x M x L) from the formulas."""
    if loss.align is not None:
        s = conv1x1(s, loss.align)
    fused = plain_fused(loss, t, s) if loss.query_from == 'teacher' else plain_fused(loss, s, t)
    v = fused.mean(dim=1)                                      # N x C
    mc = torch.sigmoid(loss.channel_units[None] @ v[:, None])  # (M x 1)(1 x C) per sample
    ms = torch.sigmoid(loss.spatial_units[None] @ fused.transpose(1, 2))  # (M x C)(C x L)
    return s, mc, ms


def plain_dice(masks):
    N, M = masks.shape[:2]
    vals = [2 * (masks[n, i] * masks[n, j]).sum() / ((masks[n, i]**2).sum()
                                                    + (masks[n, j]**2).sum())
            for n in range(N) for i in range(M) for j in range(M) if i != j]
    return sum(vals) / len(vals) if vals else 0.0


def plain_acam(loss, s, t):
    """The paper's L_c, L_s and Dice terms, with loops over samples and masks."""
    s, mc, ms = plain_masks(loss, s, t)
    N, C, H, W = t.shape
    L = H * W
    d = (t - s).pow(2).reshape(N, C, L)
    l_c = l_s = 0.0
    for n in range(N):
        for m in range(loss.num_masks):
            l_c += ((mc[n, m][:, None] * (t - s)[n].reshape(C, L))**2).sum() / (
                L * mc[n, m].sum())
            l_s += (ms[n, m][None, :]**2 * d[n]).sum() / (C * ms[n, m].sum())
    count = N * loss.num_masks
    distill = (l_c * loss.channel_mask + l_s * loss.spatial_mask) / count
    div = plain_dice(mc) * loss.channel_mask + plain_dice(ms) * loss.spatial_mask
    return loss.loss_weight * distill + loss.div_weight * div


def randomised(**kwargs):
    torch.manual_seed(0)
    loss = ACAMKDLoss(**kwargs)
    with torch.no_grad():  # spread the selection units so masks differ visibly
        loss.channel_units.normal_(0, 1)
        loss.spatial_units.normal_(0, 0.5)
    return loss


def test_dice_by_hand():
    assert dice_diversity(torch.tensor([[[1., 0.], [0., 1.]]])).item() == pytest.approx(0.0)
    assert dice_diversity(torch.ones(2, 3, 4)).item() == pytest.approx(1.0)
    # <a, b> = 1, |a|^2 = 1, |b|^2 = 2 -> 2 / 3 for both ordered pairs
    assert dice_diversity(torch.tensor([[[1., 0.], [1., 1.]]])).item() == pytest.approx(2 / 3)
    assert dice_diversity(torch.rand(2, 1, 5)).item() == 0.0  # one mask: no pairs


@pytest.mark.parametrize('channels', [6, 5])  # C_q = 3 and 2: padded fused attention
def test_fused_feature_matches_explicit_attention(channels):
    loss = randomised(student_channels=channels)
    torch.manual_seed(1)
    s, t = torch.randn(2, channels, 3, 4), torch.randn(2, channels, 3, 4)
    assert torch.allclose(loss.fuse(t, s), plain_fused(loss, t, s), atol=1e-5)


@pytest.mark.parametrize('kwargs', [
    dict(student_channels=6),
    dict(student_channels=4, teacher_channels=6, num_masks=3, loss_weight=2.0, div_weight=0.5),
    dict(student_channels=6, query_from='student'),
    dict(student_channels=6, spatial_mask=False),
    dict(student_channels=6, channel_mask=False, num_masks=1),
])
def test_matches_plain_reference(kwargs):
    loss = randomised(**kwargs)
    torch.manual_seed(2)
    s = torch.randn(2, kwargs['student_channels'], 4, 3)
    t = torch.randn(2, loss.teacher_channels, 4, 3)
    assert loss(s, t).item() == pytest.approx(plain_acam(loss, s, t).item(), rel=1e-5)


def test_identical_features_leave_only_the_diversity_term():
    loss = randomised(student_channels=6)
    t = torch.randn(2, 6, 4, 4)
    _, mc, ms = plain_masks(loss, t, t)
    expected = plain_dice(mc) + plain_dice(ms)
    assert loss(t.clone(), t).item() == pytest.approx(expected.item(), rel=1e-5)


def test_gradients_reach_student_and_loss_parameters_not_teacher():
    loss = randomised(student_channels=4, teacher_channels=6)
    s = torch.randn(2, 4, 4, 4, requires_grad=True)
    t = torch.randn(2, 6, 4, 4, requires_grad=True)
    loss(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None
    for name, p in loss.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_cutting_the_mask_path_leaves_the_weighted_imitation_gradient():
    loss = randomised(student_channels=6, student_grad_through_masks=False)
    torch.manual_seed(3)
    s = torch.randn(2, 6, 3, 3, requires_grad=True)
    t = torch.randn(2, 6, 3, 3)
    loss(s, t).backward()
    # d/dS of sum(w * (T - S)^2) with the masks' weights held fixed
    with torch.no_grad():
        _, mc, ms = plain_masks(loss, s, t)
        N, C, M, L = 2, 6, loss.num_masks, 9
        w_c = (mc**2 / (L * mc.sum(2, keepdim=True))).sum(1)[:, :, None]  # N x C x 1
        w_s = (ms**2 / (C * ms.sum(2, keepdim=True))).sum(1)[:, None, :]  # N x 1 x L
        w = ((w_c + w_s) / (N * M)).reshape(N, C, 3, 3)
    assert torch.allclose(s.grad, -2 * w * (t - s.detach()), atol=1e-6)


def test_bad_inputs():
    loss = ACAMKDLoss(4, 6)
    with pytest.raises(ValueError, match=r'student \(2, 5, 4, 4\) and teacher \(2, 6, 4, 4\)'
                       r'.*ConvModuleConnector'):
        loss(torch.randn(2, 5, 4, 4), torch.randn(2, 6, 4, 4))
    with pytest.raises(ValueError, match=r'\(2, 4, 2, 2\).*\(2, 6, 4, 4\).*same H x W'):
        loss(torch.randn(2, 4, 2, 2), torch.randn(2, 6, 4, 4))
    with pytest.raises(ValueError, match='query_from'):
        ACAMKDLoss(4, query_from='both')
    with pytest.raises(ValueError, match='num_masks'):
        ACAMKDLoss(4, num_masks=0)
    with pytest.raises(ValueError, match='spatial_mask, channel_mask'):
        ACAMKDLoss(4, spatial_mask=False, channel_mask=False)


def test_build_from_registry_and_defaults():
    loss = MODELS.build(dict(type='ACAMKDLoss', student_channels=8, num_masks=19))
    assert isinstance(loss, ACAMKDLoss)
    assert (loss.teacher_channels, loss.qk_channels, loss.align) == (8, 4, None)
    assert loss.spatial_units.shape == (19, 8) and loss.channel_units.shape == (19, 1)
    assert (loss.loss_weight, loss.div_weight, loss.query_from) == (1.0, 1.0, 'teacher')
    out = loss(torch.randn(1, 8, 5, 5), torch.randn(1, 8, 5, 5))
    assert out.dim() == 0 and torch.isfinite(out)
