import pytest
import torch
import torch.nn.functional as F

from cankd.models.losses import CanKDLoss, select_association_order
from cankd.registry import MODELS


def plain_cankd(params: dict, s, t, loss_weight=1.0, sub_sample=True, eps=1e-5, pool=2):
    """The published formula written out in float64 with the HW x N matrix."""
    s, t = s.double(), t.double()
    p = {k: v.double() for k, v in params.items()}
    q = F.conv2d(s, p['theta.weight'], p['theta.bias'])
    k = F.conv2d(t, p['phi.weight'], p['phi.bias'])
    v = F.conv2d(t, p['g.weight'], p['g.bias'])
    if sub_sample:
        k, v = F.max_pool2d(k, pool), F.max_pool2d(v, pool)
    b, ci, h, w = q.shape
    q, k, v = q.flatten(2), k.flatten(2), v.flatten(2)
    n = k.shape[-1]
    att = torch.einsum('bcp,bcn->bpn', q, k) / n           # B x HW x N, no softmax
    y = torch.einsum('bpn,bcn->bcp', att, v).reshape(b, ci, h, w)
    wy = F.conv2d(y, p['W.weight'], p['W.bias'])
    if 'bn.weight' in p:  # training-mode BatchNorm: batch statistics
        mu = wy.mean((0, 2, 3), keepdim=True)
        var = wy.var((0, 2, 3), unbiased=False, keepdim=True)
        wy = (wy - mu) / torch.sqrt(var + 1e-5) * p['bn.weight'].view(1, -1, 1, 1) \
            + p['bn.bias'].view(1, -1, 1, 1)
    z_s, z_t = wy + s, t

    def inorm(x):
        mu = x.mean((2, 3), keepdim=True)
        return (x - mu) / torch.sqrt(x.var((2, 3), unbiased=False, keepdim=True) + eps)

    return loss_weight * ((inorm(z_s) - inorm(z_t))**2).mean() / 2


# Per-(sample, channel) constant shifts of Z_s vanish in the instance norm, so
# these biases get no gradient (0 up to rounding): W.bias (removed by the batch
# norm anyway) and bn.bias add the same constant to every position.
NO_GRAD = {'W.bias', 'bn.bias'}


def make_pair(shape, seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    s = torch.randn(shape, generator=gen, dtype=dtype)
    t = torch.randn(shape, generator=gen, dtype=dtype) + 0.5 * s  # related, as after training
    return s.requires_grad_(), t


def randomise_last(loss: CanKDLoss, seed=1):
    """Non-zero BN (or W) so the attention path contributes."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in (loss.bn if loss.bn is not None else loss.W).parameters():
            p.copy_(torch.randn(p.shape, generator=gen))


def grads_of(loss_fn, module, s, t):
    s = s.detach().clone().requires_grad_()
    module.zero_grad()
    value = loss_fn(s, t)
    value.backward()
    return value.detach(), s.grad, {k: p.grad.clone() for k, p in module.named_parameters()}


@pytest.mark.parametrize('order', ['quadratic', 'linear'])
@pytest.mark.parametrize('dtype,rtol', [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_matches_plain_formula(order, dtype, rtol):
    torch.manual_seed(0)
    loss = CanKDLoss(6, inter_channels=4, loss_weight=3.0, order=order).to(dtype)
    randomise_last(loss)
    s, t = make_pair((2, 6, 6, 8), dtype=dtype)
    value, gs, gp = grads_of(loss, loss, s, t)

    params = dict(loss.named_parameters())
    ref, rgs, rgp = grads_of(
        lambda a, b: plain_cankd(params, a, b, loss_weight=3.0), loss, s, t)
    assert value.dtype == dtype
    torch.testing.assert_close(value.double(), ref, rtol=rtol, atol=0)
    torch.testing.assert_close(gs.double(), rgs.double(), rtol=rtol, atol=rtol * rgs.abs().max())
    top = max(g.abs().max() for g in rgp.values())
    for name, g in gp.items():
        if name in NO_GRAD:
            assert g.abs().max() <= rtol * top, name
            continue
        assert g.abs().max() > 0, name  # every parameter is on the gradient path
        scale = rgp[name].abs().max()
        torch.testing.assert_close(g.double(), rgp[name].double(), rtol=rtol, atol=rtol * scale)


def test_orders_agree_float32():
    s, t = make_pair((2, 16, 12, 10), seed=3)
    results = []
    for order in ('quadratic', 'linear'):
        torch.manual_seed(0)
        loss = CanKDLoss(16, order=order)
        randomise_last(loss)
        results.append(grads_of(loss, loss, s, t))
    (v1, gs1, gp1), (v2, gs2, gp2) = results
    torch.testing.assert_close(v1, v2, rtol=1e-5, atol=0)
    torch.testing.assert_close(gs1, gs2, rtol=1e-5, atol=1e-5 * gs1.abs().max())
    top = max(g.abs().max() for g in gp1.values())
    for name in set(gp1) - NO_GRAD:
        torch.testing.assert_close(gp1[name], gp2[name], rtol=1e-5,
                                   atol=1e-5 * max(gp1[name].abs().max(), 1e-3 * top))


def plain_in_mse(s, t, loss_weight):
    return loss_weight / 2 * F.mse_loss(F.instance_norm(s.double()), F.instance_norm(t.double()))


@pytest.mark.parametrize('bn_layer', [True, False])
def test_identity_at_init(bn_layer):
    loss = CanKDLoss(8, bn_layer=bn_layer, loss_weight=10.0)
    if bn_layer:
        assert loss.bn.weight.abs().sum() == 0 and loss.bn.bias.abs().sum() == 0
        assert loss.W.weight.abs().sum() > 0
    else:
        assert loss.bn is None
        assert loss.W.weight.abs().sum() == 0 and loss.W.bias.abs().sum() == 0
    s, t = make_pair((2, 8, 10, 12))
    value = loss(s, t)
    torch.testing.assert_close(value.double(), plain_in_mse(s, t, 10.0), rtol=1e-6, atol=0)
    # init_weights (run by mmengine on the whole model) keeps the zero start
    loss.init_weights()
    torch.testing.assert_close(loss(s, t), value)


def test_bn_layer_false_matches_formula():
    loss = CanKDLoss(6, bn_layer=False, loss_weight=2.0, order='linear').double()
    randomise_last(loss)
    s, t = make_pair((2, 6, 7, 5), dtype=torch.float64)
    params = dict(loss.named_parameters())
    assert 'bn.weight' not in params
    torch.testing.assert_close(loss(s, t), plain_cankd(params, s, t, 2.0), rtol=1e-10, atol=0)


@pytest.mark.parametrize('shape', [(1, 4, 7, 9), (2, 4, 5, 3), (1, 4, 3, 3)])
@pytest.mark.parametrize('order', ['quadratic', 'linear'])
def test_odd_sizes_and_batch_one(shape, order):
    loss = CanKDLoss(4, order=order).double()
    randomise_last(loss)
    s, t = make_pair(shape, dtype=torch.float64)
    value, gs, gp = grads_of(loss, loss, s, t)
    params = dict(loss.named_parameters())
    ref, rgs, _ = grads_of(lambda a, b: plain_cankd(params, a, b), loss, s, t)
    torch.testing.assert_close(value, ref, rtol=1e-10, atol=0)
    torch.testing.assert_close(gs, rgs, rtol=1e-9, atol=1e-12)


def test_no_sub_sample():
    loss = CanKDLoss(4, sub_sample=False, order='linear').double()
    randomise_last(loss)
    s, t = make_pair((2, 4, 5, 6), dtype=torch.float64)
    params = dict(loss.named_parameters())
    torch.testing.assert_close(
        loss(s, t), plain_cankd(params, s, t, sub_sample=False), rtol=1e-10, atol=0)


def test_side_shorter_than_two_is_not_pooled():
    # the published code fails on a 1-pixel-high map; here only W is pooled
    loss = CanKDLoss(4).double()
    randomise_last(loss)
    s, t = make_pair((2, 4, 1, 7), dtype=torch.float64)
    params = dict(loss.named_parameters())
    torch.testing.assert_close(
        loss(s, t), plain_cankd(params, s, t, pool=(1, 2)), rtol=1e-10, atol=0)


def test_inter_channels_default():
    assert CanKDLoss(256).inter_channels == 128
    assert CanKDLoss(5).inter_channels == 2
    one = CanKDLoss(1)
    assert one.inter_channels == 1 and one.theta.weight.shape == (1, 1, 1, 1)
    randomise_last(one)
    s, t = make_pair((2, 1, 4, 4))
    assert torch.isfinite(one(s, t))
    assert CanKDLoss(8, inter_channels=3).theta.out_channels == 3


def test_teacher_gets_no_gradient_params_do():
    loss = CanKDLoss(4)
    randomise_last(loss)
    s, t = make_pair((2, 4, 6, 6))
    t.requires_grad_()
    loss(s, t).backward()
    assert t.grad is None
    assert s.grad.abs().sum() > 0
    assert loss.phi.weight.grad.abs().sum() > 0 and loss.g.weight.grad.abs().sum() > 0


def test_autocast_bf16_cpu():
    torch.manual_seed(0)
    loss = CanKDLoss(16)
    randomise_last(loss)
    s, t = make_pair((2, 16, 12, 14))
    ref = loss(s, t)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        value = loss(s.bfloat16(), t.bfloat16())
        value32 = loss(s, t)
    assert value.dtype == torch.float32 and value32.dtype == torch.float32
    torch.testing.assert_close(value, ref, rtol=3e-2, atol=0)
    torch.testing.assert_close(value32, ref, rtol=3e-2, atol=0)
    value.backward()
    assert all(torch.isfinite(p.grad).all() for p in loss.parameters())


@pytest.mark.parametrize('autocast', [True, False])
def test_fp16_large_inputs_stay_finite(autocast):
    torch.manual_seed(0)
    loss = CanKDLoss(16)
    randomise_last(loss)
    s, t = make_pair((2, 16, 10, 12))
    s = (s.detach() * 300).half().requires_grad_()
    t = (t * 300).half()
    # the magnitude matters: the instance-norm variance alone overflows float16
    assert torch.isinf((s.detach() ** 2).sum((2, 3))).any()
    with torch.autocast('cpu', dtype=torch.float16, enabled=autocast):
        value = loss(s, t)
    assert torch.isfinite(value)
    value.backward()
    assert torch.isfinite(s.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in loss.parameters())
    ref = loss(s.detach().float(), t.float())  # scale-invariant loss: same as float32
    torch.testing.assert_close(value, ref, rtol=2e-2, atol=0)


def test_shape_mismatch_error():
    loss = CanKDLoss(8)
    with pytest.raises(ValueError, match=r'\(2, 8, 4, 4\).*\(2, 8, 8, 8\).*ConvModuleConnector'):
        loss(torch.randn(2, 8, 4, 4), torch.randn(2, 8, 8, 8))


def test_not_4d_error():
    loss = CanKDLoss(8)
    with pytest.raises(ValueError, match=r'4-D.*s_feature.*\(2, 8, 16\)'):
        loss(torch.randn(2, 8, 16), torch.randn(2, 8, 16))
    with pytest.raises(ValueError, match=r't_feature.*\(8, 4, 4\)'):
        loss(torch.randn(2, 8, 4, 4), torch.randn(8, 4, 4))


def test_channel_error():
    loss = CanKDLoss(8)
    with pytest.raises(ValueError, match=r'in_channels=8.*6 channels.*in_channels=6'):
        loss(torch.randn(2, 6, 4, 4), torch.randn(2, 6, 4, 4))


def test_bad_arguments():
    with pytest.raises(ValueError, match='order'):
        CanKDLoss(8, order='cubic')
    with pytest.raises(ValueError, match='dimension'):
        CanKDLoss(8, dimension=3)


@pytest.mark.parametrize('name', ['CanKDLoss', 'NLKD_IN_Loss'])
def test_registry_names(name):
    loss = MODELS.build(dict(type=name, in_channels=8, loss_weight=10.0, tau=1.0))
    assert type(loss) is CanKDLoss and loss.loss_weight == 10.0
    s, t = make_pair((2, 8, 4, 4))
    torch.testing.assert_close(loss(s, t).double(), plain_in_mse(s, t, 10.0), rtol=1e-6, atol=0)


def test_order_selection():
    ci = 128
    # FPN P3 of a 1333x800 input: 100 x 168, pooled 50 x 84
    assert select_association_order(100 * 168, 50 * 84, ci) == 'linear'
    assert select_association_order(100 * 168, 50 * 84, ci, 256) == 'linear'
    # segmentation layer4, 2048 channels at 64 x 128
    assert select_association_order(64 * 128, 32 * 64, 1024, 2048) == 'linear'
    assert select_association_order(4 * 4, 2 * 2, ci) == 'quadratic'
    assert select_association_order(7 * 11, 3 * 5, ci, 256) == 'quadratic'  # P7
    # the rule is a FLOP comparison (W's projection is common to both orders):
    # quadratic 2 HW N C', linear C'^2 N + C C'^2
    for hw, n, c in [(16, 4, 256), (400, 100, 256), (273, 60, 256), (1050, 252, 256),
                     (256, 64, 256), (256, 64, 8192)]:
        linear = ci * ci * n + c * ci * ci <= 2 * hw * n * ci
        assert select_association_order(hw, n, ci, c) == ('linear' if linear else 'quadratic')
    assert select_association_order(256, 64, ci, 256) == 'quadratic'
    assert select_association_order(256, 64, ci, 64) == 'linear'  # a narrower W tips it


def test_auto_uses_selected_order(monkeypatch):
    import cankd.models.losses.cankd_loss as mod
    calls = []
    real = mod.select_association_order

    def spy(hw, n, ci, c):
        calls.append((hw, n, ci, c))
        return real(hw, n, ci, c)

    monkeypatch.setattr(mod, 'select_association_order', spy)
    loss = CanKDLoss(4)
    loss(*make_pair((2, 4, 9, 6)))
    assert calls == [(54, 12, 2, 4)]  # 9x6 pooled with floor: 4x3
    CanKDLoss(4, order='linear')(*make_pair((2, 4, 9, 6)))
    assert len(calls) == 1


def test_no_grad_and_eval_mode():
    loss = CanKDLoss(4)
    randomise_last(loss)
    s, t = make_pair((2, 4, 6, 6))
    with_grad = loss(s, t)
    with torch.no_grad():
        torch.testing.assert_close(loss(s, t), with_grad)
    loss.eval()  # BN on running statistics: still the formula, still finite
    value = loss(s, t)
    assert torch.isfinite(value) and value.requires_grad
