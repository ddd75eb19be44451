"""CanKD: cross-attention non-local knowledge distillation loss."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch.autograd.function import once_differentiable

from cankd.registry import MODELS

ORDERS = ('auto', 'quadratic', 'linear')


def select_association_order(hw: int, num_keys: int, inter_channels: int,
                             in_channels: Optional[int] = None) -> str:
    """Pick the cheaper way to evaluate ``W V K^T Q / N`` (no softmax: it associates).

    Per sample, with C = ``in_channels`` (default 2 C') and the projection by W
    counted in both:

    - ``quadratic`` = ``W ((V K^T) Q)`` through the HW x N matrix ``K^T Q``:
      ``2 HW N C' + C C' HW`` multiply-adds, HW x N floats kept for backward;
    - ``linear`` = ``((W (V K^T)) Q``: ``C'^2 N + C C'^2 + C C' HW``, only
      C' x C' and C x C' matrices in between.

    Returns the one with fewer FLOPs (ties go to ``linear``, which also needs
    less memory): ``linear`` iff ``C' (N + C) <= 2 HW N``.
    """
    in_channels = in_channels or 2 * inter_channels
    return 'linear' if inter_channels * (num_keys + in_channels) <= 2 * hw * num_keys \
        else 'quadratic'


def _autocast_enabled(device_type: str) -> bool:
    try:  # torch >= 2.4
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # older torch: one flag per device kind
        if device_type == 'cpu':
            return torch.is_autocast_cpu_enabled()
        return torch.is_autocast_enabled()


class _MaxPoolKeepIndices(torch.autograd.Function):
    """Max-pool whose backward keeps only the (pooled-size) indices.

    Autograd's max-pool also saves its full-resolution input; the gradient
    only needs the arg-max positions: two thirds less kept for float32.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, kernel: Tuple[int, int]) -> torch.Tensor:
        out, idx = F.max_pool2d(x, kernel, kernel, return_indices=True)
        ctx.save_for_backward(idx)
        ctx.kernel = kernel
        ctx.size = x.shape[-2:]
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        idx, = ctx.saved_tensors
        return F.max_unpool2d(
            grad.contiguous(), idx, ctx.kernel, ctx.kernel, output_size=ctx.size), None


def _instance_norm_stats(x: torch.Tensor, eps: float, out: Optional[torch.Tensor] = None):
    """Instance norm of B x C x H x W as batch norm over a 1 x BC x H x W view.

    Returns (normalised, 1/std per (b, c)). ``out`` may alias ``x``: used on
    CPU only (verified there), where a fresh large allocation costs a pass of
    page faults.
    """
    b, c, h, w = x.shape
    x = x.reshape(1, b * c, h, w)
    if out is None:
        y, _, rstd = torch.native_batch_norm(x, None, None, None, None, True, 0.0, eps)
        return y, rstd
    mean, rstd = x.new_empty(b * c), x.new_empty(b * c)
    torch.ops.aten.native_batch_norm.out(
        x, None, None, None, None, True, 0.0, eps, out=out.view(1, b * c, h, w),
        save_mean=mean, save_invstd=rstd)
    return out.view(1, b * c, h, w), rstd


class _InstanceNormMSE(torch.autograd.Function):
    """``loss_weight / 2 * MSE(IN(z), IN(t))``, IN without affine parameters.

    The loss is the last op of the graph, so its gradient w.r.t. ``z`` is
    computed here in forward and is the only tensor kept for backward (autograd
    would keep ``z``, ``IN(z)`` and ``IN(t)``). ``z`` is a buffer made by
    :class:`CanKDLoss` and saved by nobody: on CPU it is normalised in place.
    No gradient reaches ``t``.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor, t: torch.Tensor, loss_weight: float,
                eps: float) -> torch.Tensor:
        b, c, h, w = z.shape
        in_place = z.device.type == 'cpu' and z.is_contiguous()
        z_hat, rstd = _instance_norm_stats(z, eps, out=z if in_place else None)
        d, _ = _instance_norm_stats(t.to(z.dtype), eps)
        torch.sub(z_hat, d, out=d)  # d = IN(z) - IN(t)
        numel = d.numel()
        d, z_hat = d.view(b * c, h * w), z_hat.view(b * c, h * w)
        # sum of squares as per-row dot products (no temporary; CPU float32
        # vector_norm over millions of elements is off by ~1e-4 relative)
        sq = torch.bmm(d.unsqueeze(1), d.unsqueeze(2)).sum()
        loss = sq * (loss_weight / (2 * numel))
        if ctx.needs_input_grad[0]:
            # dL/dz = rstd * (g - mean(g) - z_hat * mean(g * z_hat)), g = w * d / numel;
            # mean(d) is exactly 0 (both sides are standardised), so it is dropped.
            mean_dz = torch.bmm(d.unsqueeze(1), z_hat.unsqueeze(2)).view(b * c, 1)
            d.addcmul_(z_hat, mean_dz, value=-1.0 / (h * w))
            d.mul_(rstd.view(b * c, 1) * (loss_weight / numel))
            ctx.save_for_backward(d.view(b, c, h, w))
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss: torch.Tensor):
        dz, = ctx.saved_tensors
        # the usual case (the loss summed into the total) gets a gradient of 1
        if not (grad_loss.device.type == 'cpu' and grad_loss.item() == 1.0):
            dz = dz * grad_loss
        return dz, None, None, None


@MODELS.register_module()
class CanKDLoss(BaseModule):
    """CanKD loss: the student attends to the teacher (cross-attention
    non-local block), then instance-normalised features are matched.

    CanKD: Cross-Attention-based Non-local operation for Feature-based
    Knowledge Distillation (arXiv 2511.21503, WACV 2026). With S (student) and
    T (teacher) both B x C x H x W and C' = ``inter_channels``::

        Q = theta(S)                 B x C' x HW
        K = maxpool2x2(phi(T))       B x C' x N      (N pooled positions)
        V = maxpool2x2(g(T))         B x C' x N
        A = Q^T K / N                B x HW x N      (no softmax)
        Y = A V^T                    B x HW x C' -> B x C' x H x W
        Z_s = BN(W(Y)) + S,  Z_t = T                 B x C x H x W
        loss = loss_weight * MSE(IN(Z_s), IN(Z_t)) / 2

    Without a softmax the products associate: ``W(Y) = (W V K^T / N) Q`` with
    ``W V K^T / N`` only C x C', so the linear order gives the same loss with
    neither the HW x N matrix nor Y. ``order='auto'`` takes whichever order
    needs fewer FLOPs (:func:`select_association_order`), ``'quadratic'``
    forces the published evaluation, ``'linear'`` the other.
    From the attention product on, everything runs in at least float32, also
    under autocast. The teacher feature is detached here; gradients reach the
    student and theta/phi/g/W/BN.

    Args:
        in_channels (int): C, channels of both features.
        inter_channels (int, optional): C'. Defaults to ``max(C // 2, 1)``.
        sub_sample (bool): 2x2 max-pool keys and values (floor for odd sizes;
            a side shorter than 2 is left unpooled). Defaults to True.
        bn_layer (bool): BatchNorm after W, weight and bias zero-initialised;
            without it W itself is zero-initialised. Either way Z_s == S at
            initialisation. Defaults to True.
        loss_weight (float): Defaults to 1.0 (the paper's configs use 10).
        order (str): 'auto', 'quadratic' or 'linear'. Defaults to 'auto'.
        dimension (int): kept for the official configs; only 2 is supported.
        tau (float): kept for the official configs; unused by the loss.
        eps (float): instance-norm epsilon. Defaults to 1e-5.
        init_cfg (dict, optional): mmengine init config.
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
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if order not in ORDERS:
            raise ValueError(f'CanKDLoss: order must be one of {ORDERS}, got {order!r}')
        if dimension != 2:
            raise ValueError(
                f'CanKDLoss supports 2-D feature maps only (dimension=2), got {dimension}')
        if in_channels < 1:
            raise ValueError(f'CanKDLoss: in_channels must be >= 1, got {in_channels}')
        self.in_channels = in_channels
        self.inter_channels = inter_channels or max(in_channels // 2, 1)
        self.sub_sample = sub_sample
        self.loss_weight = loss_weight
        self.order = order
        self.tau = tau
        self.eps = eps
        c, ci = in_channels, self.inter_channels
        self.theta = nn.Conv2d(c, ci, 1)
        self.phi = nn.Conv2d(c, ci, 1)
        self.g = nn.Conv2d(c, ci, 1)
        self.W = nn.Conv2d(ci, c, 1)
        self.bn = nn.BatchNorm2d(c) if bn_layer else None
        self._zero_init()

    def _zero_init(self) -> None:
        last = self.bn if self.bn is not None else self.W
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def init_weights(self) -> None:
        super().init_weights()
        self._zero_init()  # Z_s == S at the start, whatever init_cfg did

    def _check_inputs(self, s: torch.Tensor, t: torch.Tensor) -> None:
        for name, x in (('s_feature', s), ('t_feature', t)):
            if x.dim() != 4:
                raise ValueError(
                    f'CanKDLoss expects 4-D B x C x H x W features, got {name} of shape '
                    f'{tuple(x.shape)}')
        if s.shape[0] == t.shape[0] and s.shape[-2:] != t.shape[-2:]:
            raise ValueError(
                f'CanKDLoss needs student and teacher features of the same shape, got '
                f's_feature {tuple(s.shape)} and t_feature {tuple(t.shape)}: the spatial '
                f'sizes differ ({s.shape[-2]}x{s.shape[-1]} vs {t.shape[-2]}x{t.shape[-1]}), '
                'so the two features come from different strides (e.g. FPNs with different '
                'start_level): pair levels of the same stride (data_idx), resize the '
                'student with NLKD_IN_align_Loss, or map it with a connector (e.g. '
                'ConvModuleConnector)')
        if s.shape != t.shape:
            raise ValueError(
                f'CanKDLoss needs student and teacher features of the same shape, got '
                f's_feature {tuple(s.shape)} and t_feature {tuple(t.shape)}: map the '
                'student to the teacher with a connector (e.g. ConvModuleConnector)')
        if s.shape[1] != self.in_channels:
            raise ValueError(
                f'CanKDLoss was built with in_channels={self.in_channels} but the features '
                f'have {s.shape[1]} channels (shape {tuple(s.shape)}): set '
                f'in_channels={s.shape[1]}')

    @staticmethod
    def _project(weight: torch.Tensor, x: torch.Tensor,
                 bias: Optional[torch.Tensor] = None) -> torch.Tensor:
        """1x1 conv as one batched GEMM: B x C_in x HW -> B x C_out x HW."""
        weight = weight.view(weight.shape[0], -1).expand(x.shape[0], -1, -1)
        if bias is None:
            return torch.bmm(weight, x)
        return torch.baddbmm(bias, weight, x)

    def _attend_project(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                        order: str) -> torch.Tensor:
        """W(Y) with W's bias: Y = V K^T (Q + b_theta) / N, Q without theta's bias.

        q: B x C' x HW; k, v: B x C' x N. Returns B x C x HW. The linear order
        never forms Y either: W (V K^T / N) is a B x C x C' matrix applied to
        Q directly, so the attention costs O(C'^2 N + C C'^2) on top of one
        C' -> C projection, the same projection the published order needs.
        """
        b, ci, n = k.shape
        w_weight = self.W.weight.view(-1, ci).to(q.dtype).expand(b, -1, -1)  # B x C x C'
        w_bias = self.W.bias.to(q.dtype).view(1, -1, 1)
        # theta's bias adds the same V K^T b_theta / N to every position of Y
        b_theta = self.theta.bias.to(q.dtype).view(1, ci, 1).expand(b, -1, -1)
        if order == 'linear':
            wm = torch.bmm(w_weight, torch.bmm(v, k.transpose(1, 2)).div_(n))  # W V K^T / N
            return torch.baddbmm(torch.baddbmm(w_bias, wm, b_theta), wm, q)
        # published order, through the B x N x HW matrix K^T Q (= A^T)
        y = torch.bmm(v, torch.bmm(k.transpose(1, 2), q)).div_(n)
        y_bias = torch.bmm(v, torch.bmm(k.transpose(1, 2), b_theta)).div_(n)  # B x C' x 1
        return torch.baddbmm(torch.baddbmm(w_bias, w_weight, y_bias), w_weight, y)

    def forward(self, s_feature: torch.Tensor, t_feature: torch.Tensor) -> torch.Tensor:
        """s_feature, t_feature: B x C x H x W. Returns the scalar loss."""
        self._check_inputs(s_feature, t_feature)
        s, t = s_feature, t_feature.detach()
        device_type = s.device.type
        if not _autocast_enabled(device_type):
            s, t = s.to(self.theta.weight.dtype), t.to(self.theta.weight.dtype)
        b, c, h, w = s.shape
        ci = self.inter_channels

        # Biases go onto small tensors: max(x + b) = max(x) + b for phi and g;
        # theta's in _attend_project.
        q = self._project(self.theta.weight, s.reshape(b, c, h * w))
        # phi and g read the same teacher map: one GEMM and one pooling for both.
        kv = self._project(torch.cat([self.phi.weight, self.g.weight]), t.reshape(b, c, h * w))
        kernel = (min(h, 2), min(w, 2)) if self.sub_sample else (1, 1)
        if kernel != (1, 1):
            kv = _MaxPoolKeepIndices.apply(kv.view(b, 2 * ci, h, w), kernel).flatten(2)

        with torch.autocast(device_type, enabled=False):
            dtype = torch.promote_types(q.dtype, torch.float32)
            kv = kv.to(dtype) + torch.cat([self.phi.bias, self.g.bias]).to(dtype).view(-1, 1)
            q = q.to(dtype)
            k, v = kv.split(ci, dim=1)  # B x C' x N each
            order = self.order
            if order == 'auto':
                order = select_association_order(h * w, k.shape[-1], ci, c)
            z = self._attend_project(q, k, v, order).view(b, c, h, w)
            if self.bn is not None:
                z = self.bn(z)
            # in place: neither the BN nor the GEMM keeps its output for backward
            z = z.add_(s)
            return _InstanceNormMSE.apply(z, t, self.loss_weight, self.eps)


MODELS.register_module(name='NLKD_IN_Loss', module=CanKDLoss)
