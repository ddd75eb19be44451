"""The CanKD paper's family of non-local KD losses, one implementation with options.

CanKD (Cross-Attention-based Non-local KD, arXiv 2511.21503, WACV 2026)
ablates its loss over the pairwise function, the instance norm, the residual,
feature alignment and a deformable block. :class:`NonLocalKDLoss` computes
each of them exactly; the official names (tori-hotaru/CanKD @ f951e3a,
``mmrazor/models/losses/nlkd_*.py``, ``dcn_nlkd_loss.py``) are thin aliases
that fix the options and take the official constructor arguments.

Checked: every alias against a float64 transcription of its formula (tests),
and once against the official files themselves, run in float64 on the same
weights (loss and all gradients equal to rounding). Official oddities and
what ``strict_official`` does: docs/methods.md, "The NLKD family".
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from cankd.registry import MODELS
from .cankd_loss import (CanKDLoss, _autocast_enabled, _InstanceNormMSE, _MaxPoolKeepIndices,
                         select_association_order)

PAIRWISE = ('dot', 'gaussian', 'embedded_gaussian', 'concatenation')
Features = Union[torch.Tensor, Sequence[torch.Tensor]]


def _concat_attend(u: torch.Tensor, w: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Y_i = sum_j relu(u_i + w_j) V_j / N without the HW x N matrix.

    u: B x HW, w: B x N, v: B x C' x N. Returns B x C' x HW. With the keys
    sorted by w, the j with u_i + w_j > 0 are a suffix, so Y_i is
    ``u_i * sum(V_j) + sum(w_j V_j)`` over that suffix: two suffix sums and a
    gather (O((HW + N) log N + (HW + N) C'), exact; gradients flow through u,
    w and v, the sort indices are constants as relu's kink is).
    """
    b, ci, n = v.shape
    w_sorted, perm = w.sort(dim=1)
    v_sorted = v.gather(2, perm.unsqueeze(1).expand(-1, ci, -1))
    both = torch.cat([v_sorted, v_sorted * w_sorted.unsqueeze(1)], 1)  # B x 2C' x N
    suffix = F.pad(both.flip(2).cumsum(2).flip(2), (0, 1))  # B x 2C' x (N + 1), last = 0
    start = torch.searchsorted(w_sorted.detach(), -u.detach(), right=True)  # first w_j > -u_i
    picked = suffix.gather(2, start.unsqueeze(1).expand(-1, 2 * ci, -1))  # B x 2C' x HW
    sum_v, sum_wv = picked.split(ci, dim=1)
    return torch.addcmul(sum_wv, sum_v, u.unsqueeze(1)).div_(n)


def _conv_project(weight: torch.Tensor, x: torch.Tensor,
                  bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """A 1x1 conv on B x C_in x L: B x C_out x L. On CPU, at the segmentation
    shape (2048 channels, 8192 positions), oneDNN's convolution forward and
    backward are about 2x faster than the same product as a batched GEMM
    with an expanded weight."""
    return F.conv1d(x, weight.reshape(weight.shape[0], -1, 1), bias)


def _softmax_attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Y = V softmax(Q^T K)^T (softmax over keys, no scale).

    q: B x Cq x HW, k: B x Cq x N, v: B x C' x N; returns B x C' x HW.
    ``scaled_dot_product_attention`` with ``scale=1`` keeps only a per-query
    log-sum-exp for backward (flash kernel), never the HW x N matrix. The
    fused kernel wants one head size, so the narrower side is zero-padded
    (zeros change neither Q^T K nor the kept columns of Y); 'gaussian' avoids
    that by passing W V as the values.
    """
    cq, cv = q.shape[1], v.shape[1]
    e = max(cq, cv)
    # B x 1 x L x e with unit stride along e: the fused kernels need it (else: math)
    q, k = (F.pad(x.transpose(1, 2), (0, e - cq)).contiguous().unsqueeze(1) for x in (q, k))
    v = F.pad(v.transpose(1, 2), (0, e - cv)).contiguous().unsqueeze(1)
    y = F.scaled_dot_product_attention(q, k, v, scale=1.0)  # B x 1 x HW x e
    return y[:, 0, :, :cv].transpose(1, 2)


@MODELS.register_module()
class NonLocalKDLoss(CanKDLoss):
    """Non-local (cross-attention) KD loss with the CanKD paper's ablation options.

    S (student), T (teacher): B x C x H x W; C' = ``inter_channels``; pool =
    2x2 max-pool (floor; a side shorter than 2 is left unpooled), N pooled
    positions::

        Q = theta(S)        B x C' x HW  (S itself for 'gaussian')
        K = pool(phi(T))    B x C' x N   (pool(T), C rows, for 'gaussian')
        V = pool(g(T))      B x C' x N
        A = f(Q, K)         B x HW x N
            'dot':               Q^T K / N
            'gaussian':          softmax_keys(S^T pool(T))   (no scale)
            'embedded_gaussian': softmax_keys(Q^T K)         (no scale)
            'concatenation':     relu(a^T Q_i + b^T K_j) / N  ([a; b] = 1x1 conv, no bias)
        Y = A V^T           B x HW x C' -> B x C' x H x W
        Z_s = BN(W(Y)) [+ S],  Z_t = T
        loss = w * MSE(IN(Z_s), IN(Z_t)) / 2      (instance_norm)
               w * MSE(Z_s, Z_t) / 2              (otherwise)

    'dot' (``deformable=False``) runs :class:`CanKDLoss`'s reassociated
    evaluation; the softmax kernels go through
    ``scaled_dot_product_attention`` and 'concatenation' through a sort and
    two suffix sums (:func:`_concat_attend`): all exact, none keeps the
    HW x N matrix. With ``deformable=True`` theta, phi, g are 3x3 deformable
    convs (``mmcv.ops.DeformConv2dPack``, padding 1, no bias, offsets
    zero-initialised) and W a 1x1 deformable conv (no bias).

    ``align=True`` accepts lists/tuples of levels (the loss is the mean over
    levels, one block shared by all) and bilinearly resizes the student
    (``align_corners=False``) to the teacher's size when they differ.

    Args:
        in_channels, inter_channels, sub_sample, bn_layer, loss_weight,
        order, dimension, tau, eps, init_cfg: as :class:`CanKDLoss`.
        pairwise (str): one of ``PAIRWISE``. Defaults to 'dot'.
        instance_norm (bool): match IN(Z_s) to IN(T). Defaults to True.
        residual (bool): add S to the block output. Defaults to True.
        align (bool): accept level lists and resize the student. Defaults to False.
        deformable (bool): deformable theta/phi/g/W. Defaults to False.
        fused_softmax (bool | str): softmax variants through
            ``scaled_dot_product_attention`` (True: the HW x N matrix is never
            kept, but the logits are recomputed in backward) or as the official
            code does (False: logits and softmax kept, fewer FLOPs). 'auto':
            fused iff N > 2 Cq (Cq: the logits' contraction width, C for
            'gaussian', C' else), i.e. where the HW x N matrix outweighs the
            features (FPN levels, not the 2048-channel segmentation map).
            Defaults to 'auto'.
        strict_official (bool): reproduce the official code where it fails
            (see docs/methods.md, "The NLKD family"): 'gaussian' without
            sub-sampling and deformable without BN raise as the official code
            does, and ``align`` uses only the first min(len) levels of two
            lists of different lengths. False: unpooled raw keys, zero-init
            W's weight, and an error on a length mismatch. Defaults to True.
    """

    def __init__(self,
                 in_channels: int,
                 inter_channels: Optional[int] = None,
                 sub_sample: bool = True,
                 bn_layer: bool = True,
                 loss_weight: float = 1.0,
                 order: str = 'auto',
                 dimension: int = 2,
                 tau: float = 1.0,
                 eps: float = 1e-5,
                 pairwise: str = 'dot',
                 instance_norm: bool = True,
                 residual: bool = True,
                 align: bool = False,
                 deformable: bool = False,
                 fused_softmax: Union[bool, str] = 'auto',
                 strict_official: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        name = type(self).__name__
        if pairwise not in PAIRWISE:
            raise ValueError(f'{name}: pairwise must be one of {PAIRWISE}, got {pairwise!r}')
        if pairwise == 'gaussian' and not sub_sample and strict_official:
            raise ValueError(
                f"{name}: pairwise='gaussian' with sub_sample=False fails in the official code "
                '(its phi, the key pooling, is only defined when sub-sampling); pass '
                'strict_official=False to use the unpooled teacher as keys')
        if deformable and not bn_layer and strict_official:
            raise ValueError(
                f'{name}: deformable=True with bn_layer=False fails in the official code '
                "(it zeroes W.bias, which mmcv's DeformConv2dPack does not have); pass "
                "strict_official=False to zero-initialise W's weight instead")
        super().__init__(in_channels, inter_channels, sub_sample, bn_layer, loss_weight,
                         order, dimension, tau, eps, init_cfg)
        self.pairwise, self.deformable = pairwise, deformable
        self.instance_norm, self.residual, self.align = instance_norm, residual, align
        if fused_softmax not in (True, False, 'auto'):
            raise ValueError(f"{name}: fused_softmax must be True, False or 'auto', "
                             f'got {fused_softmax!r}')
        self.strict_official, self.fused_softmax = strict_official, fused_softmax
        c, ci = in_channels, self.inter_channels
        if deformable:
            from mmcv.ops import DeformConv2dPack
            self.theta, self.phi, self.g = (
                DeformConv2dPack(c, ci, 3, padding=1) for _ in range(3))
            self.W = DeformConv2dPack(ci, c, 1)
        if pairwise == 'gaussian':  # raw features as queries and keys
            self.theta = self.phi = None
        if pairwise == 'concatenation':
            self.concat_project = nn.Conv2d(2 * ci, 1, 1, bias=False)
        self._zero_init()

    def _zero_init(self) -> None:
        last = self.bn if self.bn is not None else self.W
        nn.init.zeros_(last.weight)
        if getattr(last, 'bias', None) is not None:
            nn.init.zeros_(last.bias)

    @property
    def _fast_path(self) -> bool:
        return (self.pairwise == 'dot' and self.instance_norm and self.residual
                and not self.deformable)

    # ---------------------------------------------------------------- inputs
    def forward(self, s_feature: Features, t_feature: Features) -> torch.Tensor:
        """s_feature, t_feature: B x C x H x W (lists of them with ``align``)."""
        name = type(self).__name__
        if isinstance(s_feature, (list, tuple)) or isinstance(t_feature, (list, tuple)):
            if not self.align:
                raise TypeError(f'{name} takes one B x C x H x W tensor per side, got a '
                                'list/tuple: use NLKD_IN_align_Loss (align=True) for levels')
            if not (isinstance(s_feature, (list, tuple)) and isinstance(t_feature, (list, tuple))):
                raise TypeError(f'{name}: give both sides as lists of levels or both as tensors, '
                                f'got {type(s_feature).__name__} and {type(t_feature).__name__}')
            if len(s_feature) != len(t_feature) and not self.strict_official:
                raise ValueError(f'{name}: {len(s_feature)} student levels but '
                                 f'{len(t_feature)} teacher levels; they must match')
            levels = min(len(s_feature), len(t_feature))
            if levels == 0:
                raise ValueError(f'{name}: got an empty list of levels')
            return sum(self._single(s_feature[i], t_feature[i]) for i in range(levels)) / levels
        return self._single(s_feature, t_feature)

    def _single(self, s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if self.align and s.dim() == 4 and t.dim() == 4 and s.shape[-2:] != t.shape[-2:]:
            if s.shape[:2] != t.shape[:2]:
                raise ValueError(
                    f'{type(self).__name__} resizes only the spatial size; batch and channels '
                    f'must match, got s_feature {tuple(s.shape)} and t_feature {tuple(t.shape)}')
            s = F.interpolate(s, size=t.shape[-2:], mode='bilinear', align_corners=False)
        if self._fast_path:
            return super().forward(s, t)
        self._check_inputs(s, t)
        return self._general(s, t.detach())

    def _check_inputs(self, s: torch.Tensor, t: torch.Tensor) -> None:
        try:
            super()._check_inputs(s, t)
        except ValueError as err:  # same checks, named after this class
            raise ValueError(str(err).replace('CanKDLoss', type(self).__name__, 1)) from None

    # ------------------------------------------------------------ evaluation
    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        """B x C x H x W -> B x C x N."""
        h, w = x.shape[-2:]
        kernel = (min(h, 2), min(w, 2)) if self.sub_sample else (1, 1)
        if kernel != (1, 1):
            x = _MaxPoolKeepIndices.apply(x, kernel)
        return x.flatten(2)

    def _general(self, s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        device_type = s.device.type
        if not _autocast_enabled(device_type):
            s, t = s.to(self.g.weight.dtype), t.to(self.g.weight.dtype)
        b, c, h, w = s.shape
        ci = self.inter_channels
        flat = lambda x: x.reshape(b, x.shape[1], h * w)  # noqa: E731
        if self.deformable:  # 3x3 deformable projections, no bias
            q, v = self.theta(s), self._pool(self.g(t))
            k = self._pool(self.phi(t))
        elif self.pairwise == 'gaussian':
            q, k = s.reshape(b, c, h * w), self._pool(t)
            v = self._pool(self.g(t))
        elif self.pairwise != 'dot':  # 1x1 convs as convs: mkldnn beats a batched GEMM
            q = _conv_project(self.theta.weight, flat(s), self.theta.bias)
            kv = _conv_project(torch.cat([self.phi.weight, self.g.weight]), flat(t))
            kv = self._pool(kv.view(b, 2 * ci, h, w))
            kv = kv + torch.cat([self.phi.bias, self.g.bias]).to(kv.dtype).view(-1, 1)
            k, v = kv.split(ci, dim=1)
        else:  # dot: 1x1 convs as GEMMs (theta's bias enters in _attend_project)
            q = self._project(self.theta.weight, flat(s))
            kv = self._project(torch.cat([self.phi.weight, self.g.weight]), flat(t))
            kv = self._pool(kv.view(b, 2 * ci, h, w))
            kv = kv + torch.cat([self.phi.bias, self.g.bias]).to(kv.dtype).view(-1, 1)
            k, v = kv.split(ci, dim=1)

        with torch.autocast(device_type, enabled=False):
            dtype = torch.promote_types(q.dtype, torch.float32)
            q, k, v = flat(q).to(dtype), k.to(dtype), v.to(dtype)
            n = k.shape[-1]
            wy = None
            if self.pairwise == 'dot' and not self.deformable:  # W(Y) reassociated
                order = self.order if self.order != 'auto' else \
                    select_association_order(h * w, n, ci, c)
                wy = self._attend_project(q, k, v, order)
            elif self.pairwise == 'dot':  # Y itself (W is deformable): (V K^T / N) Q
                if self.order == 'quadratic' or (self.order == 'auto'
                                                 and ci * (n + h * w) > 2 * h * w * n):
                    y = torch.bmm(v, torch.bmm(k.transpose(1, 2), q)).div_(n)
                else:
                    y = torch.bmm(torch.bmm(v, k.transpose(1, 2)).div_(n), q)
            elif self.pairwise == 'concatenation':
                a, bk = self.concat_project.weight.to(dtype).view(2, ci, 1).unbind(0)
                u = (q * a).sum(1)  # B x HW
                y = _concat_attend(u, (k * bk).sum(1), v)
            elif not (self.fused_softmax is True or (self.fused_softmax == 'auto'
                                                      and n > 2 * q.shape[1])):
                # the official order: B x HW x N logits and softmax kept
                att = torch.softmax(torch.bmm(q.transpose(1, 2), k), dim=-1)
                y = torch.bmm(v, att.transpose(1, 2))
            elif self.pairwise == 'gaussian' and not self.deformable:
                # rows of A sum to 1 and W is pointwise: W(Y) = A (W V)^T + b, so the
                # values are W V (C rows, as wide as the raw-feature queries: no padding)
                w_weight = self.W.weight.to(dtype).view(c, ci).expand(b, -1, -1)
                wy = _softmax_attend(q, k, torch.bmm(w_weight, v)) \
                    + self.W.bias.to(dtype).view(1, -1, 1)
            else:
                y = _softmax_attend(q, k, v)
            if wy is None:
                if self.deformable:
                    wy = self.W(y.reshape(b, ci, h, w).to(self.W.weight.dtype)).to(dtype)
                else:
                    wy = _conv_project(self.W.weight.to(dtype), y, self.W.bias.to(dtype))
            # contiguous: CPU BatchNorm2d backward is wrong for a batch-1 input with
            # an odd batch stride (a view of a transposed tensor; seen in torch 2.13)
            z = wy.contiguous().view(b, c, h, w)
            if self.bn is not None:
                z = self.bn(z)
            if self.residual:
                z = z + s
            if self.instance_norm:
                return _InstanceNormMSE.apply(z, t, self.loss_weight, self.eps)
            return F.mse_loss(z, t.to(z.dtype)) * (self.loss_weight / 2)


class _OfficialAlias(NonLocalKDLoss):
    """A registered official name: fixes some options, takes the official args
    (in_channels, inter_channels, dimension, sub_sample, bn_layer, tau,
    loss_weight) and any unfixed option of :class:`NonLocalKDLoss`."""

    fixed: dict = {}

    def __init__(self, in_channels: int, inter_channels: Optional[int] = None,
                 dimension: int = 2, sub_sample: bool = True, bn_layer: bool = True,
                 tau: float = 1.0, loss_weight: float = 1.0, **options) -> None:
        for key, value in self.fixed.items():
            if options.get(key, value) != value:
                raise ValueError(f'{type(self).__name__} fixes {key}={value!r}, got '
                                 f'{options[key]!r}: use NonLocalKDLoss to choose it')
        super().__init__(in_channels, inter_channels, sub_sample=sub_sample, bn_layer=bn_layer,
                         loss_weight=loss_weight, dimension=dimension, tau=tau,
                         **{**options, **self.fixed})


def _alias(name: str, doc: str, **fixed) -> type:
    cls = type(name, (_OfficialAlias,), {'fixed': fixed, '__doc__': doc,
                                         '__module__': __name__})
    MODELS.register_module(name=name, module=cls)
    return cls


_CHECKED = 'Checked against a float64 transcription of the formula ' \
    '(tests/test_models/test_losses/test_nlkd_family.py).'
NLKD_woIN_Loss = _alias('NLKD_woIN_Loss', (
    'Official ``nlkd_woIN_loss.py``: CanKD without instance norm, '
    f'``w * MSE(BN(W(Y)) + S, T) / 2``. {_CHECKED}'), instance_norm=False)
NLKD_WOSkip_Loss = _alias('NLKD_WOSkip_Loss', (
    'Official ``nlkd_woskip_loss.py``: CanKD without the residual, '
    f'``w * MSE(IN(BN(W(Y))), IN(T)) / 2``. {_CHECKED}'), residual=False)
NLKD_IN_Gaussian_Loss = _alias('NLKD_IN_Gaussian_Loss', (
    'Official ``nlkd_IN_gaussain_loss.py``: A = softmax over keys of '
    f'S^T maxpool(T) (raw features, no theta/phi). {_CHECKED}'), pairwise='gaussian')
NLKD_IN_EBGaussian_Loss = _alias('NLKD_IN_EBGaussian_Loss', (
    'Official ``nlkd_IN_EBgaussain_loss.py``: A = softmax over keys of '
    f'theta(S)^T maxpool(phi(T)). {_CHECKED}'), pairwise='embedded_gaussian')
NLKD_IN_Concatenation_Loss = _alias('NLKD_IN_Concatenation_Loss', (
    'Official ``nlkd_IN_concatenation_loss.py``: A_ij = relu(a^T theta(S)_i + '
    f'b^T maxpool(phi(T))_j) / N. {_CHECKED}'), pairwise='concatenation')
NLKD_IN_align_Loss = _alias('NLKD_IN_align_Loss', (
    'Official ``nlkd_IN_align_loss.py``: CanKD on lists of levels (mean over levels), '
    f'student bilinearly resized to the teacher size. {_CHECKED}'), align=True)
DCN_NLKD_Loss = _alias('DCN_NLKD_Loss', (
    'Official ``dcn_nlkd_loss.py``: CanKD with 3x3 deformable theta/phi/g and a '
    f'1x1 deformable W (mmcv DeformConv2dPack, no bias). {_CHECKED}'), deformable=True)
