"""CrossKD's and LD's losses against float64 references written from the
papers' equations (CrossKD arXiv 2306.11369 Sec. 3; LD arXiv 2102.12252
Eq. 3-4), cross-checked against mmdet's own loss modules where they exist."""
import math

import pytest
import torch

from cankd.models.losses import (CenternessKDLoss, CrossKDBoxLoss, KDQualityFocalLoss,
                                 LocalizationDistillLoss)
from cankd.registry import MODELS


def _sig(x):
    return 1 / (1 + math.exp(-x))


# --- KDQualityFocalLoss ---------------------------------------------------
def ref_kd_qfl(preds_S, preds_T, num_classes, label_weights=None, avg_factor=None, beta=1.0):
    """sum_levels sum_{prior, class} w * BCE(s, t) * |s - t|^beta / avg_factor,
    s = sigmoid(z_S), t = sigmoid(z_T); priors in (n, h, w, anchor) order."""
    total = 0.0
    for level, (zs, zt) in enumerate(zip(preds_S, preds_T)):
        zs, zt = zs.double(), zt.double()
        N, AC, H, W = zs.shape
        A = AC // num_classes
        level_sum, count = 0.0, 0
        prior = 0
        for n in range(N):
            for h in range(H):
                for w in range(W):
                    for a in range(A):
                        lw = 1.0 if label_weights is None else float(
                            label_weights[level].reshape(-1)[prior])
                        for c in range(num_classes):
                            ch = a * num_classes + c
                            s, t = _sig(zs[n, ch, h, w].item()), _sig(zt[n, ch, h, w].item())
                            bce = -(t * math.log(s) + (1 - t) * math.log(1 - s))
                            level_sum += lw * bce * abs(s - t)**beta
                            count += 1
                        prior += 1
        total += level_sum / count if avg_factor is None else level_sum / avg_factor
    return total


def _levels(shapes, seed, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g) * scale for s in shapes]


def test_kd_qfl_matches_formula_with_anchors_weights_and_avg_factor():
    shapes = [(2, 2 * 3, 4, 4), (2, 2 * 3, 2, 2)]  # A = 2 anchors, C = 3 classes
    s, t = _levels(shapes, 0), _levels(shapes, 1)
    g = torch.Generator().manual_seed(2)
    lw = [(torch.rand(2, 4 * 4 * 2, generator=g) > 0.3).float(),
          (torch.rand(2, 2 * 2 * 2, generator=g) > 0.3).float()]
    loss = KDQualityFocalLoss(beta=1, loss_weight=1.5)(s, t, label_weights=lw, avg_factor=7)
    expected = 1.5 * ref_kd_qfl(s, t, 3, lw, avg_factor=7)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # beta 2, no weights, mean per level
    loss = KDQualityFocalLoss(beta=2)(s, t)
    assert loss.item() == pytest.approx(ref_kd_qfl(s, t, 3, beta=2), rel=1e-5)


def test_kd_qfl_vanishes_at_the_teacher_and_only_the_student_gets_gradients():
    t = _levels([(1, 3, 3, 3)], 3)
    assert KDQualityFocalLoss()(t, t).item() == pytest.approx(0.0, abs=1e-7)
    s = [x.clone().requires_grad_() for x in _levels([(1, 3, 3, 3)], 4)]
    t = [x.clone().requires_grad_() for x in t]
    KDQualityFocalLoss()(s, t, avg_factor=torch.tensor(3.)).backward()
    assert s[0].grad.abs().sum() > 0 and t[0].grad is None


def test_kd_qfl_tensor_avg_factor_is_summed_like_fcos_centerness_denorm():
    s, t = _levels([(1, 2, 3, 3)], 5), _levels([(1, 2, 3, 3)], 6)
    centerness = torch.tensor([0.5, 0.25, 1.0])
    a = KDQualityFocalLoss()(s, t, avg_factor=centerness)
    b = KDQualityFocalLoss()(s, t, avg_factor=1.75)
    torch.testing.assert_close(a, b)
    # no positives: the denominator is 1e-6, as FCOS's max(..., 1e-6)
    c = KDQualityFocalLoss()(s, t, avg_factor=torch.zeros(0))
    assert c.item() == pytest.approx(KDQualityFocalLoss()(s, t, avg_factor=1e-6).item())


def test_kd_qfl_errors():
    s, t = _levels([(1, 3, 2, 2)], 0), _levels([(1, 3, 2, 3)], 1)
    with pytest.raises(ValueError, match='differ'):
        KDQualityFocalLoss()(s, t)
    with pytest.raises(ValueError, match='levels'):
        KDQualityFocalLoss()(s, s + s)
    with pytest.raises(ValueError, match='label weights'):
        KDQualityFocalLoss()(s, s, label_weights=[torch.ones(1, 5)])


# --- CrossKDBoxLoss -------------------------------------------------------
def ref_giou(a, b):
    """GIoU from its definition: IoU - |C \\ (A u B)| / |C|, C the enclosing box."""
    ax1, ay1, ax2, ay2 = a
    bx1, by1, bx2, by2 = b
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    enclose = (max(ax2, bx2) - min(ax1, bx1)) * (max(ay2, by2) - min(ay1, by1))
    return inter / union, inter / union - (enclose - union) / enclose


def _boxes(n, m, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, m, 2, generator=g) * 50
    wh = 2 + torch.rand(n, m, 2, generator=g) * 30
    return torch.cat([xy, xy + wh], dim=-1)


def ref_box_kd(bs, bt, scores, num_classes, mode, label_weights=None, avg_factor=None):
    total, wsum = 0.0, 0.0
    for level in range(len(bs)):
        N, M = bs[level].shape[:2]
        sc = scores[level].double().permute(0, 2, 3, 1).reshape(N * M, num_classes)
        s_rows, t_rows = bs[level].double().reshape(-1, 4), bt[level].double().reshape(-1, 4)
        for i in range(N * M):
            w = max(_sig(v) for v in sc[i].tolist())
            if label_weights is not None and label_weights[level].reshape(-1)[i] == 0:
                w = 0.0
            iou, giou = ref_giou(s_rows[i].tolist(), t_rows[i].tolist())
            total += w * ((1 - giou) if mode == 'giou' else -math.log(max(iou, 1e-6)))
            wsum += w
    return total / (wsum if avg_factor is None else avg_factor)


@pytest.mark.parametrize('mode', ['giou', 'iou'])
def test_box_kd_matches_formula(mode):
    # two levels, A = 2 anchors of C = 3 classes on 3 x 2 and 2 x 2 grids
    bs = [_boxes(2, 3 * 2 * 2, 0), _boxes(2, 2 * 2 * 2, 1)]
    # the average of two valid boxes is a valid box, overlapping both
    bt = [(b + _boxes(2, b.shape[1], 9 + i)) / 2 for i, b in enumerate(bs)]
    scores = _levels([(2, 6, 3, 2), (2, 6, 2, 2)], 3)
    lw = [torch.ones(2, 12), torch.ones(2, 8)]
    lw[0][0, :5] = 0
    loss = CrossKDBoxLoss(mode=mode, normalize='avg_factor', loss_weight=2.0)(
        bs, bt, scores, label_weights=lw, avg_factor=5)
    expected = 2.0 * ref_box_kd(bs, bt, scores, 3, mode, lw, avg_factor=5)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss = CrossKDBoxLoss(mode=mode, normalize='weight_sum')(bs, bt, scores)
    assert loss.item() == pytest.approx(ref_box_kd(bs, bt, scores, 3, mode), rel=1e-5)


def test_box_kd_agrees_with_mmdet_giou_and_iou_losses():
    from mmdet.models.losses import GIoULoss, IoULoss
    bs, bt = _boxes(1, 20, 4).reshape(-1, 4), _boxes(1, 20, 5).reshape(-1, 4)
    scores = _levels([(1, 2, 4, 5)], 6)[0]
    w = scores.permute(0, 2, 3, 1).reshape(20, 2).sigmoid().max(1)[0]
    ours = CrossKDBoxLoss('giou', 'avg_factor')(bs[None], bt[None], scores, avg_factor=3.0)
    theirs = GIoULoss(loss_weight=1.0)(bs, bt, weight=w, avg_factor=3.0)
    torch.testing.assert_close(ours, theirs)
    ours = CrossKDBoxLoss('iou', 'avg_factor')(bs[None], bt[None], scores, avg_factor=3.0)
    theirs = IoULoss(loss_weight=1.0)(bs, bt, weight=w, avg_factor=3.0)
    torch.testing.assert_close(ours, theirs)


def test_box_kd_gradients_student_only_and_errors():
    bs = _boxes(1, 6, 0).requires_grad_()
    bt = _boxes(1, 6, 1).requires_grad_()
    scores = _levels([(1, 1, 2, 3)], 2)[0].requires_grad_()
    CrossKDBoxLoss()(bs, bt, scores, avg_factor=2).backward()
    assert bs.grad.abs().sum() > 0 and bt.grad is None and scores.grad is None
    with pytest.raises(ValueError, match='needs avg_factor'):
        CrossKDBoxLoss()(bs, bt, scores)
    with pytest.raises(ValueError, match='mode'):
        CrossKDBoxLoss(mode='l1')
    with pytest.raises(ValueError, match='differ'):
        CrossKDBoxLoss('giou', 'weight_sum')(bs, _boxes(1, 5, 1), scores)


# --- CenternessKDLoss --------------------------------------------------------
def test_centerness_kd_matches_formula_and_mmdet_bce_as_crosskd_atss_calls_it():
    from mmdet.models.losses import CrossEntropyLoss
    s, t = _levels([(2, 1, 3, 3), (2, 1, 2, 2)], 0), _levels([(2, 1, 3, 3), (2, 1, 2, 2)], 1)
    g = torch.Generator().manual_seed(2)
    labels = [torch.randint(0, 5, (2, 9), generator=g), torch.randint(0, 5, (2, 4), generator=g)]
    loss = CenternessKDLoss(num_classes=4, loss_weight=2.0)(s, t, labels, avg_factor=3)
    expected = 0.0
    for zs, zt, lab in zip(s, t, labels):
        for a, b, c in zip(zs.double().flatten().tolist(), zt.double().flatten().tolist(),
                           lab.flatten().tolist()):
            if 0 <= c < 4:
                p, q = _sig(a), _sig(b)
                expected += -(q * math.log(p) + (1 - q) * math.log(1 - p))
    assert loss.item() == pytest.approx(2.0 * expected / 3, rel=1e-5)
    # the official ATSS recipe: mmdet's sigmoid CrossEntropyLoss on the positives, per level
    bce = CrossEntropyLoss(use_sigmoid=True, loss_weight=2.0)
    theirs = 0.
    for zs, zt, lab in zip(s, t, labels):
        pos = ((lab >= 0) & (lab < 4)).reshape(-1).nonzero().squeeze(1)
        theirs = theirs + bce(zs.reshape(-1)[pos], zt.reshape(-1)[pos].sigmoid(), avg_factor=3)
    torch.testing.assert_close(loss, theirs)
    # no positives: 0, and the teacher gets no gradient
    zs = s[0].clone().requires_grad_()
    zt = t[0].clone().requires_grad_()
    CenternessKDLoss(num_classes=4)(zs, zt, torch.zeros(2, 9), avg_factor=1).backward()
    assert zs.grad.abs().sum() > 0 and zt.grad is None
    none = CenternessKDLoss(num_classes=4)(s, t, [torch.full((2, 9), 4), torch.full((2, 4), 4)])
    assert none.item() == 0
    with pytest.raises(ValueError, match='labels'):
        CenternessKDLoss(num_classes=4)(s[0], t[0], torch.zeros(2, 5))


# --- LocalizationDistillLoss --------------------------------------------------
def ref_ld(preds_S, preds_T, reg_max, T, reduction, scores=None, labels=None,
           label_weights=None, normalize='none'):
    """LD (Eq. 3-4): per box side, KL(softmax(z_T / T) || softmax(z_S / T)) * T^2
    (mean or sum over the n + 1 bins); sum over the 4 sides / 4, weighted per
    location."""
    bins = reg_max + 1
    total, wsum = 0.0, 0.0
    for level, (zs, zt) in enumerate(zip(preds_S, preds_T)):
        zs, zt = zs.double(), zt.double()
        N, _, H, W = zs.shape
        loc = 0
        for n in range(N):
            for h in range(H):
                for w in range(W):
                    kl_sides = 0.0
                    for side in range(4):
                        s = zs[n, side * bins:(side + 1) * bins, h, w] / T
                        t = zt[n, side * bins:(side + 1) * bins, h, w] / T
                        ps = [math.exp(v) / sum(math.exp(u) for u in s.tolist())
                              for v in s.tolist()]
                        pt = [math.exp(v) / sum(math.exp(u) for u in t.tolist())
                              for v in t.tolist()]
                        terms = [b * (math.log(b) - math.log(a)) for a, b in zip(ps, pt)]
                        kl = sum(terms) / (bins if reduction == 'mean' else 1)
                        kl_sides += kl * T * T
                    weight = 1.0
                    if scores is not None:
                        weight = max(_sig(v) for v in scores[level][n, :, h, w].tolist())
                    if labels is not None:
                        lab = int(labels[level].reshape(-1)[loc])
                        weight *= float(0 <= lab < scores[level].shape[1])
                    if label_weights is not None and label_weights[level].reshape(-1)[loc] == 0:
                        weight = 0.0
                    total += weight * kl_sides / 4
                    wsum += weight
                    loc += 1
    return total / wsum if normalize == 'weight_sum' else total


def test_ld_matches_formula_mmdet_ld_settings():
    """mmdet's LDHead: T 10, mean over bins, weight 0.25, positives only,
    each weighted by the student's top class score."""
    reg_max = 4
    shapes = [(2, 4 * (reg_max + 1), 3, 3), (2, 4 * (reg_max + 1), 2, 2)]
    s, t = _levels(shapes, 0), _levels(shapes, 1)
    scores = _levels([(2, 3, 3, 3), (2, 3, 2, 2)], 2)
    g = torch.Generator().manual_seed(3)
    labels = [torch.randint(0, 5, (2, 9), generator=g), torch.randint(0, 5, (2, 4), generator=g)]
    loss = LocalizationDistillLoss(reg_max=reg_max, T=10, loss_weight=0.25)(
        s, t, scores=scores, labels=labels)
    expected = 0.25 * ref_ld(s, t, reg_max, 10, 'mean', scores=scores, labels=labels)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_ld_matches_formula_crosskd_gfl_settings():
    """CrossKD's GFL regression KD: T 1, sum over bins, teacher-score weights
    (0 on ignored priors), averaged over the weights."""
    reg_max = 3
    shapes = [(1, 16, 2, 3), (1, 16, 1, 2)]
    s, t = _levels(shapes, 4), _levels(shapes, 5)
    scores = _levels([(1, 2, 2, 3), (1, 2, 1, 2)], 6)
    lw = [torch.tensor([[1., 0., 1., 1., 1., 0.]]), torch.ones(1, 2)]
    loss = LocalizationDistillLoss(reg_max=reg_max, T=1, bin_reduction='sum',
                                   normalize='weight_sum', loss_weight=3.0)(
        s, t, scores=scores, label_weights=lw)
    expected = 3.0 * ref_ld(s, t, reg_max, 1, 'sum', scores=scores, label_weights=lw,
                            normalize='weight_sum')
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_ld_agrees_with_mmdet_kd_kl_div_loss_as_ldhead_calls_it():
    from mmdet.models.losses import KnowledgeDistillationKLDivLoss
    reg_max = 16
    s, t = _levels([(1, 68, 3, 4)], 7), _levels([(1, 68, 3, 4)], 8)
    scores = _levels([(1, 5, 3, 4)], 9)
    labels = torch.tensor([[0, 5, 5, 2, 5, 5, 4, 5, 5, 1, 5, 5]])
    ours = LocalizationDistillLoss(reg_max=reg_max, T=10, loss_weight=0.25)(
        s, t, scores=scores, labels=labels)
    # LDHead.loss_by_feat_single, positives only
    pos = ((labels >= 0) & (labels < 5)).reshape(-1).nonzero().squeeze(1)
    pred = s[0][0].permute(1, 2, 0).reshape(-1, 68)[pos].reshape(-1, 17)
    soft = t[0][0].permute(1, 2, 0).reshape(-1, 68)[pos].reshape(-1, 17)
    w = scores[0][0].permute(1, 2, 0).reshape(-1, 5).sigmoid().max(1)[0][pos]
    theirs = KnowledgeDistillationKLDivLoss(loss_weight=0.25, T=10)(
        pred, soft, weight=w[:, None].expand(-1, 4).reshape(-1), avg_factor=4.0)
    torch.testing.assert_close(ours, theirs)


def test_ld_gradients_student_only_registry_and_errors():
    s = _levels([(1, 20, 2, 2)], 0)[0].requires_grad_()
    t = _levels([(1, 20, 2, 2)], 1)[0].requires_grad_()
    sc = _levels([(1, 3, 2, 2)], 2)[0].requires_grad_()
    LocalizationDistillLoss(reg_max=4)(s, t, scores=sc).backward()
    assert s.grad.abs().sum() > 0 and t.grad is None and sc.grad is None
    assert MODELS.get('LocalizationDistillLoss') is LocalizationDistillLoss
    assert LocalizationDistillLoss(reg_max=4)(t, t).item() == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match='N x 20 x H x W'):
        LocalizationDistillLoss(reg_max=4)(s, _levels([(1, 16, 2, 2)], 1)[0])
    with pytest.raises(ValueError, match='labels need scores'):
        LocalizationDistillLoss(reg_max=4)(s, t, labels=torch.zeros(1, 4))
    with pytest.raises(ValueError, match='bin_reduction'):
        LocalizationDistillLoss(bin_reduction='max')
