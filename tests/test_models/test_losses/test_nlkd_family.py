"""The NLKD family (CanKD paper ablations) against float64 transcriptions of its formulas."""
import pytest
import torch
import torch.nn.functional as F

from cankd.models.losses import NonLocalKDLoss
from cankd.registry import MODELS



@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one intra-op thread is faster, and robust to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


ALIASES = {
    'NLKD_woIN_Loss': dict(instance_norm=False),
    'NLKD_WOSkip_Loss': dict(residual=False),
    'NLKD_IN_Gaussian_Loss': dict(pairwise='gaussian'),
    'NLKD_IN_EBGaussian_Loss': dict(pairwise='embedded_gaussian'),
    'NLKD_IN_Concatenation_Loss': dict(pairwise='concatenation'),
    'NLKD_IN_align_Loss': dict(),
    'DCN_NLKD_Loss': dict(deformable=True),
}


def deform_conv(x, p, prefix, pad):
    """mmcv's DeformConv2dPack written out: bilinear samples (zero outside) at
    the kernel taps shifted by offsets (dy, dx per tap) from a plain conv."""
    weight = p[prefix + '.weight']
    off = F.conv2d(x, p[prefix + '.conv_offset.weight'], p[prefix + '.conv_offset.bias'],
                   padding=pad)
    b, _, h, w = x.shape
    kh, kw = weight.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h, dtype=x.dtype), torch.arange(w, dtype=x.dtype),
                            indexing='ij')
    out = 0
    for i in range(kh):
        for j in range(kw):
            tap = i * kw + j
            py = ys - pad + i + off[:, 2 * tap]
            px = xs - pad + j + off[:, 2 * tap + 1]
            grid = torch.stack([2 * px / (w - 1) - 1, 2 * py / (h - 1) - 1], -1)
            sampled = F.grid_sample(x, grid, mode='bilinear', padding_mode='zeros',
                                    align_corners=True)
            out = out + torch.einsum('oc,bchw->bohw', weight[:, :, i, j], sampled)
    return out


def reference(m: NonLocalKDLoss, s, t, pool=(2, 2)):
    """The loss from its formula in float64, with the HW x N matrix."""
    p = {k: v.double() for k, v in [*m.named_parameters(), *m.named_buffers()]}
    s, t = s.double(), t.double()
    conv = lambda x, n: F.conv2d(x, p[n + '.weight'], p.get(n + '.bias'))  # noqa: E731
    if m.deformable:
        q, k, v = (deform_conv(x, p, n, 1) for x, n in ((s, 'theta'), (t, 'phi'), (t, 'g')))
    elif m.pairwise == 'gaussian':
        q, k, v = s, t, conv(t, 'g')
    else:
        q, k, v = conv(s, 'theta'), conv(t, 'phi'), conv(t, 'g')
    if m.sub_sample:
        k, v = F.max_pool2d(k, pool), F.max_pool2d(v, pool)
    b, _, h, w = s.shape
    q, k, v = q.flatten(2), k.flatten(2), v.flatten(2)
    n = k.shape[-1]
    f = torch.einsum('bcp,bcn->bpn', q, k)
    if m.pairwise == 'dot':
        att = f / n
    elif m.pairwise == 'concatenation':
        a, bb = p['concat_project.weight'].view(2, -1).unbind(0)
        att = torch.relu(torch.einsum('c,bcp->bp', a, q)[:, :, None]
                         + torch.einsum('c,bcn->bn', bb, k)[:, None, :]) / n
    else:
        att = torch.softmax(f, dim=-1)
    y = torch.einsum('bpn,bcn->bcp', att, v).reshape(b, -1, h, w)
    wy = deform_conv(y, p, 'W', 0) if m.deformable else conv(y, 'W')
    if m.bn is not None:
        if m.bn.training:
            mu = wy.mean((0, 2, 3), keepdim=True)
            var = wy.var((0, 2, 3), unbiased=False, keepdim=True)
        else:
            mu, var = (p['bn.running_' + x].view(1, -1, 1, 1) for x in ('mean', 'var'))
        wy = (wy - mu) / torch.sqrt(var + 1e-5) * p['bn.weight'].view(1, -1, 1, 1) \
            + p['bn.bias'].view(1, -1, 1, 1)
    z = wy + s if m.residual else wy
    if m.instance_norm:
        z, t = F.instance_norm(z, eps=m.eps), F.instance_norm(t, eps=m.eps)
    return m.loss_weight * ((z - t)**2).mean() / 2


def make_pair(shape, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    s = torch.randn(shape, generator=gen, dtype=dtype)
    t = torch.randn(shape, generator=gen, dtype=dtype) + 0.5 * s
    return s, t


def build(name, dtype=torch.float64, seed=1, **kw):
    """The alias with every parameter randomised (zero-init BN/W would hide the block)."""
    torch.manual_seed(seed)
    m = MODELS.build(dict(type=name, in_channels=6, inter_channels=4, loss_weight=3.0, **kw))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for pname, prm in m.named_parameters():
            scale = 0.02 if 'conv_offset' in pname else 1.0  # offsets of a fraction of a pixel
            if getattr(m, 'pairwise', '') == 'concatenation' and pname.endswith('.bias'):
                scale = 0.05  # relu(u_i + v_j) of both signs
            prm.copy_(scale * torch.randn(prm.shape, generator=gen))
        if m.bn is not None:
            m.bn.running_mean.normal_(generator=gen)
            m.bn.running_var.uniform_(0.5, 2.0, generator=gen)
    return m.to(dtype)


def grads(fn, m, s, t):
    s = s.detach().clone().requires_grad_()
    m.zero_grad()
    value = fn(s, t)
    value.backward()
    return value.detach(), s.grad, {k: p.grad.clone() for k, p in m.named_parameters()}


def assert_same(m, s, t, ref_fn=None, rtol=1e-9):
    ref_fn = ref_fn or (lambda a, b: reference(m, a, b))
    value, gs, gp = grads(m, m, s, t)
    ref, rgs, rgp = grads(ref_fn, m, s, t)
    rgs, rgp = rgs.double(), {k: g.double() for k, g in rgp.items()}
    torch.testing.assert_close(value.double(), ref, rtol=rtol, atol=0)
    torch.testing.assert_close(gs.double(), rgs, rtol=rtol, atol=rtol * rgs.abs().max())
    top = max(g.abs().max() for g in rgp.values())
    for name, g in gp.items():  # every parameter, also theta/phi/g, offsets, BN
        torch.testing.assert_close(g.double(), rgp[name], rtol=rtol, atol=rtol * top,
                                   msg=lambda msg, name=name: f'{name}: {msg}')
        # biases may be structurally 0 (a softmax or BN/IN removes constant shifts)
        # and IN(BN(.)) ignores BN's scale without the skip
        structural = name.endswith('bias') or (name == 'bn.weight' and not m.residual)
        assert structural or rgp[name].abs().max() > 1e-6 * top, name


@pytest.mark.parametrize('shape,train', [((2, 6, 6, 8), True), ((1, 6, 5, 7), True),
                                         ((2, 6, 5, 3), False)],
                         ids=['train', 'odd-batch1-train', 'odd-eval'])
@pytest.mark.parametrize('name', list(ALIASES))
def test_alias_matches_formula(name, shape, train):
    softmax = 'Gaussian' in name  # the fused path ('auto' would pick it for larger N only)
    m = build(name, **(dict(fused_softmax=True) if softmax else {})).train(train)
    for key, value in ALIASES[name].items():
        assert getattr(m, key) == value
    assert_same(m, *make_pair(shape))


@pytest.mark.parametrize('pairwise', ['gaussian', 'embedded_gaussian', 'concatenation', 'dot'])
def test_float32_close_to_float64(pairwise):
    torch.manual_seed(0)
    m = NonLocalKDLoss(16, pairwise=pairwise, residual=False, loss_weight=2.0,
                       fused_softmax=True)
    with torch.no_grad():
        m.bn.weight.normal_()
    s, t = make_pair((2, 16, 12, 10), dtype=torch.float32)
    s = s * 0.2  # keeps the raw-feature softmax away from one-hot
    t = t * 0.2
    assert_same(m, s, t, ref_fn=lambda a, b: reference(m, a, b), rtol=2e-4)


def test_align_levels_and_resize():
    m = build('NLKD_IN_align_Loss')
    s = [make_pair((2, 6, 4, 5), seed=i)[0] for i in range(3)]
    t = [make_pair((2, 6, 8, 10), seed=i)[1] for i in range(2)] + [make_pair((2, 6, 3, 3))[1]]
    up = lambda x, y: F.interpolate(x, size=y.shape[-2:], mode='bilinear')  # noqa: E731
    ref = sum(reference(m, up(a, b), b) for a, b in zip(s, t)) / 3
    torch.testing.assert_close(m(s, t), ref, rtol=1e-10, atol=0)
    # official: two lists of different lengths use the first min(len) levels
    ref2 = sum(reference(m, up(a, b), b) for a, b in zip(s, t[:2])) / 2
    torch.testing.assert_close(m(s, t[:2]), ref2, rtol=1e-10, atol=0)
    with pytest.raises(ValueError, match='3 student levels but 2 teacher'):
        build('NLKD_IN_align_Loss', strict_official=False)(s, t[:2])
    with pytest.raises(TypeError, match='both as tensors'):
        m(s, t[0])
    with pytest.raises(TypeError, match='NLKD_IN_align_Loss'):
        build('NLKD_woIN_Loss')(s, t)
    with pytest.raises(ValueError, match='batch and channels'):
        m(s[0][:, :4], t[0])


def test_official_constructor_args():
    args = dict(in_channels=8, inter_channels=None, dimension=2, sub_sample=True,
                bn_layer=True, tau=1.0, loss_weight=10)
    s, t = make_pair((2, 8, 6, 6), dtype=torch.float32)
    for name in ALIASES:
        m = MODELS.build(dict(type=name, **args))
        assert m.inter_channels == 4 and m.loss_weight == 10 and m.tau == 1.0
        # BN (W for none) zero-initialised: Z_s == S (== 0 without the skip)
        expected = reference(m, s, t) if name != 'NLKD_IN_align_Loss' else None
        if expected is not None:
            torch.testing.assert_close(m(s, t).double(), expected, rtol=1e-5, atol=0)
        positional = type(m)(8, None, 2, True, True, 1.0, 10)
        assert positional.loss_weight == 10
    assert MODELS.build(dict(type='NLKD_IN_Gaussian_Loss', in_channels=8)).theta is None
    names = dict(MODELS.build(dict(type='DCN_NLKD_Loss', in_channels=8)).named_parameters())
    assert 'theta.conv_offset.weight' in names and 'theta.bias' not in names


def test_official_failures_reproduced_and_fixed():
    with pytest.raises(ValueError, match='strict_official=False'):
        MODELS.build(dict(type='NLKD_IN_Gaussian_Loss', in_channels=6, sub_sample=False))
    m = build('NLKD_IN_Gaussian_Loss', sub_sample=False, strict_official=False)
    assert_same(m, *make_pair((2, 6, 4, 5)))
    with pytest.raises(ValueError, match='DeformConv2dPack'):
        MODELS.build(dict(type='DCN_NLKD_Loss', in_channels=6, bn_layer=False))
    m = MODELS.build(dict(type='DCN_NLKD_Loss', in_channels=6, bn_layer=False,
                          strict_official=False)).double()
    assert m.bn is None and m.W.weight.abs().sum() == 0
    s, t = make_pair((2, 6, 4, 5))
    torch.testing.assert_close(m(s, t), reference(m, s, t), rtol=1e-10, atol=0)
    m = build('DCN_NLKD_Loss', bn_layer=False, strict_official=False)
    assert_same(m, s, t)


def test_bad_inputs_name_the_fault():
    with pytest.raises(ValueError, match=r"NLKD_IN_Concatenation_Loss fixes pairwise="):
        MODELS.build(dict(type='NLKD_IN_Concatenation_Loss', in_channels=4, pairwise='dot'))
    with pytest.raises(ValueError, match=r"pairwise must be one of .*'gaussian'"):
        NonLocalKDLoss(4, pairwise='softmax')
    with pytest.raises(ValueError, match='dimension=2'):
        MODELS.build(dict(type='NLKD_woIN_Loss', in_channels=4, dimension=3))
    m = MODELS.build(dict(type='NLKD_IN_EBGaussian_Loss', in_channels=4))
    with pytest.raises(ValueError, match=r'NLKD_IN_EBGaussian_Loss needs .* same shape'):
        m(torch.randn(2, 4, 5, 5), torch.randn(2, 4, 5, 6))
    with pytest.raises(ValueError, match=r'in_channels=4 .* set in_channels=3'):
        m(torch.randn(2, 3, 5, 5), torch.randn(2, 3, 5, 5))
    with pytest.raises(ValueError, match='4-D'):
        m(torch.randn(4, 5, 5), torch.randn(4, 5, 5))


@pytest.mark.parametrize('name', ['NLKD_woIN_Loss', 'NLKD_IN_Gaussian_Loss',
                                  'NLKD_IN_EBGaussian_Loss', 'NLKD_IN_Concatenation_Loss',
                                  'DCN_NLKD_Loss'])
def test_no_hw_by_n_matrix_kept(name):
    """Nothing of HW x N size is saved for backward (the point of the evaluation)."""
    m = MODELS.build(dict(type=name, in_channels=8))  # 'auto': fused, as N > 2 C
    s, t = make_pair((2, 8, 24, 20), dtype=torch.float32)
    s.requires_grad_()
    hw, n = 24 * 20, 12 * 10
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda x: saved.append(x.numel()) or x,
                                                  lambda x: x):
        value = m(s, t)
    value.backward()
    assert saved and max(saved) < hw * n, (max(saved), hw * n)


@pytest.mark.parametrize('fused', [True, False])
def test_fused_or_materialized_softmax_matches(fused):
    for name in ('NLKD_IN_Gaussian_Loss', 'NLKD_IN_EBGaussian_Loss'):
        m = build(name, fused_softmax=fused)
        assert_same(m, *make_pair((2, 6, 5, 4)))
    with pytest.raises(ValueError, match="fused_softmax must be True, False or 'auto'"):
        NonLocalKDLoss(4, pairwise='gaussian', fused_softmax='yes')
