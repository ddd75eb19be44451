import math

import pytest
import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.structures import InstanceData

from cankd.models.losses import FGDLoss
from cankd.registry import MODELS


def sample(boxes, batch_input_shape=(32, 32), img_shape=None, box_type=None):
    ds = DetDataSample(metainfo=dict(batch_input_shape=batch_input_shape,
                                     img_shape=img_shape or batch_input_shape))
    bboxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    ds.gt_instances = InstanceData(bboxes=box_type(bboxes) if box_type else bboxes)
    return ds


def plain_masks(data_samples, H, W):
    """Official FGD mask rule with loops: inclusive [floor, ceil] cells, max of 1/area."""
    N = len(data_samples)
    fg = [[[0.0] * W for _ in range(H)] for _ in range(N)]
    for i, ds in enumerate(data_samples):
        bh, bw = ds.metainfo['batch_input_shape']
        stride = max(bh / H, bw / W)
        boxes = ds.gt_instances.bboxes
        boxes = boxes.tensor if isinstance(boxes, HorizontalBoxes) else boxes
        for x1, y1, x2, y2 in boxes.tolist():
            c0, r0 = math.floor(x1 / stride), math.floor(y1 / stride)
            c1, r1 = math.ceil(x2 / stride), math.ceil(y2 / stride)
            area = 1.0 / ((r1 + 1 - r0) * (c1 + 1 - c0))
            for r in range(max(r0, 0), min(r1, H - 1) + 1):
                for c in range(max(c0, 0), min(c1, W - 1) + 1):
                    fg[i][r][c] = max(fg[i][r][c], area)
    fg = torch.tensor(fg)
    bg = (fg == 0).float()
    bg = bg / bg.sum(dim=(1, 2), keepdim=True).clamp(min=1)
    return fg, bg


def plain_fgd(loss, s, t, data_samples):
    """The paper's terms, written as the official code does (sqrt-weighted features)."""
    N, C, H, W = t.shape
    if loss.align is not None:
        s = F.conv2d(s, loss.align.weight, loss.align.bias)

    def attention(x):
        a = x.abs()
        sp = H * W * torch.softmax(a.mean(1).reshape(N, -1) / loss.temp, 1)
        ch = C * torch.softmax(a.mean((2, 3)) / loss.temp, 1)
        return sp.reshape(N, 1, H, W), ch.reshape(N, C, 1, 1)

    sp_t, ch_t = attention(t)
    sp_s, ch_s = attention(s)
    fg, bg = plain_masks(data_samples, H, W)
    fg, bg = fg[:, None], bg[:, None]
    ft, fs = t * sp_t.sqrt() * ch_t.sqrt(), s * sp_t.sqrt() * ch_t.sqrt()
    l_fg = ((fs * fg.sqrt() - ft * fg.sqrt())**2).sum() / N
    l_bg = ((fs * bg.sqrt() - ft * bg.sqrt())**2).sum() / N
    l_at = ((ch_s - ch_t).abs().sum() + (sp_s - sp_t).abs().sum()) / N

    def gc(x, conv_mask, block):
        w = torch.softmax(F.conv2d(x, conv_mask.weight, conv_mask.bias).reshape(N, -1), 1)
        ctx = torch.einsum('ncp,np->nc', x.reshape(N, C, -1), w).reshape(N, C, 1, 1)
        h = F.conv2d(ctx, block[0].weight, block[0].bias)
        h = F.layer_norm(h, h.shape[1:], block[1].weight, block[1].bias).clamp(min=0)
        return x + F.conv2d(h, block[3].weight, block[3].bias)

    l_gl = ((gc(s, loss.conv_mask_s, loss.channel_add_conv_s)
             - gc(t, loss.conv_mask_t, loss.channel_add_conv_t))**2).sum() / N
    return (loss.alpha_fgd * l_fg + loss.beta_fgd * l_bg + loss.gamma_fgd * l_at
            + loss.lambda_fgd * l_gl)


# --- masks --------------------------------------------------------------------
def test_mask_of_one_box_by_hand():
    # 32 x 32 batch, 8 x 8 map -> stride 4; box (4, 8, 12, 16) -> cells x 1..3, y 2..4
    fg, bg = FGDLoss(4).get_masks([sample([[4, 8, 12, 16]])], (1, 4, 8, 8), 'cpu')
    expected = torch.zeros(8, 8)
    expected[2:5, 1:4] = 1 / 9
    assert torch.allclose(fg[0], expected)
    assert torch.allclose(bg[0], (expected == 0).float() / (64 - 9))
    assert bg[0].sum().item() == pytest.approx(1.0)


def test_overlapping_boxes_keep_the_smaller_boxs_weight():
    fg, _ = FGDLoss(4).get_masks([sample([[0, 0, 28, 28], [4, 4, 8, 8]])], (1, 4, 8, 8), 'cpu')
    assert fg[0, 0, 0].item() == pytest.approx(1 / 64)  # big box: cells 0..7 -> 8 x 8
    assert fg[0, 1, 1].item() == pytest.approx(1 / 4)   # small box: cells 1..2 -> 2 x 2
    assert fg[0, 3, 3].item() == pytest.approx(1 / 64)  # outside the small box


def test_stride_from_batch_input_shape_not_img_shape():
    # ceil-mode level: 800 x 1216 batch, 13 x 19 map -> stride 64 (not 800 / 13)
    ds = sample([[0, 0, 64, 64]], batch_input_shape=(800, 1216), img_shape=(750, 1000))
    fg, _ = FGDLoss(4).get_masks([ds], (1, 4, 13, 19), 'cpu')
    assert fg[0, :2, :2].eq(1 / 4).all() and fg[0].gt(0).sum().item() == 4


def test_masks_match_plain_rule_on_random_boxes_and_box_types():
    torch.manual_seed(0)
    xy = torch.rand(5, 2) * 48
    boxes = torch.cat([xy, xy + torch.rand(5, 2) * 16 + 1], 1).tolist()
    dss = [sample(boxes, (64, 64)), sample(boxes[:2], (64, 64), box_type=HorizontalBoxes),
           sample([], (64, 64))]
    fg, bg = FGDLoss(4).get_masks(dss, (3, 4, 8, 8), 'cpu')
    ref_fg, ref_bg = plain_masks(dss, 8, 8)
    assert torch.allclose(fg, ref_fg) and torch.allclose(bg, ref_bg)
    assert fg[2].eq(0).all() and torch.allclose(bg[2], torch.full((8, 8), 1 / 64))


# --- loss ---------------------------------------------------------------------
def randomise(loss):
    # Make every term non-trivial (the GcBlock's last conv starts at zero).
    torch.manual_seed(1)
    for p in loss.parameters():
        p.data.normal_(0, 0.3)
    return loss


@pytest.mark.parametrize('channels', [(4, 4), (3, 4)])
def test_matches_plain_reference(channels):
    loss = randomise(FGDLoss(*channels, alpha_fgd=1.0, beta_fgd=0.7, gamma_fgd=0.3,
                             lambda_fgd=0.1))
    torch.manual_seed(2)
    s, t = torch.randn(2, channels[0], 8, 8), torch.randn(2, channels[1], 8, 8)
    dss = [sample([[4, 8, 12, 16], [0, 0, 30, 10]]), sample([[16, 16, 31, 31]])]
    assert loss(s, t, dss).item() == pytest.approx(plain_fgd(loss, s, t, dss).item(), rel=1e-5)


def test_each_weight_selects_its_term_and_global_term_starts_as_plain_sse():
    torch.manual_seed(3)
    s, t = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    dss = [sample([[4, 8, 12, 16]]), sample([])]
    only = dict(alpha_fgd=0.0, beta_fgd=0.0, gamma_fgd=0.0, lambda_fgd=0.0)
    # Fresh init: the GcBlock transform's last conv is zero -> identity block.
    gl = FGDLoss(4, **{**only, 'lambda_fgd': 1.0})(s, t, dss).item()
    assert gl == pytest.approx(((s - t)**2).sum().item() / 2, rel=1e-5)
    at = FGDLoss(4, **{**only, 'gamma_fgd': 1.0})(s, t, dss).item()
    assert at > 0 and FGDLoss(4, **{**only, 'gamma_fgd': 1.0})(t, t, dss).item() == 0


def test_gradients_student_and_own_parameters_only():
    loss = randomise(FGDLoss(3, 4))
    s = torch.randn(2, 3, 8, 8, requires_grad=True)
    t = torch.randn(2, 4, 8, 8, requires_grad=True)
    loss(s, t, [sample([[4, 8, 12, 16]]), sample([[0, 0, 8, 8]])]).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None
    for name in ('align.weight', 'conv_mask_s.weight', 'conv_mask_t.weight',
                 'channel_add_conv_t.3.weight'):
        assert dict(loss.named_parameters())[name].grad is not None, name


def test_bad_inputs():
    loss = FGDLoss(4)
    s, t = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    with pytest.raises(ValueError, match='2 DetDataSample.*got None'):
        loss(s, t)
    with pytest.raises(ValueError, match='2 DetDataSample.*got 1 data samples'):
        loss(s, t, [sample([])])
    ds = DetDataSample(metainfo=dict(img_shape=(32, 32)))
    ds.gt_instances = InstanceData(bboxes=torch.zeros(0, 4))
    with pytest.raises(ValueError, match='batch_input_shape'):
        loss(s, t, [ds, ds])
    with pytest.raises(ValueError, match=r'student \(2, 3, 8, 8\) and teacher \(2, 4, 8, 8\)'
                       r'.*ConvModuleConnector'):
        loss(torch.randn(2, 3, 8, 8), t, [sample([])] * 2)
    with pytest.raises(ValueError, match=r'\(2, 4, 4, 4\).*\(2, 4, 8, 8\).*same H x W'):
        loss(torch.randn(2, 4, 4, 4), t, [sample([])] * 2)
    with pytest.raises(ValueError, match='either in_channels'):
        FGDLoss(4, in_channels=4)
    with pytest.raises(ValueError, match='set in_channels'):
        FGDLoss()


def test_build_from_registry_mmrazor_and_official_arguments():
    mmrazor = MODELS.build(dict(type='FGDLoss', in_channels=8, temp=0.5, alpha_fgd=0.00005,
                                beta_fgd=0.000025, gamma_fgd=0.00005, lambda_fgd=0.0000005))
    assert mmrazor.align is None and mmrazor.teacher_channels == 8
    official = MODELS.build(dict(type='FGDLoss', student_channels=4, teacher_channels=8))
    assert official.align is not None
    assert (official.temp, official.alpha_fgd, official.beta_fgd, official.gamma_fgd,
            official.lambda_fgd) == (0.5, 0.001, 0.0005, 0.001, 0.000005)
