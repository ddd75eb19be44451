from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from cankd.registry import MODELS
from .kl_divergence import check_choice, check_pair, check_tau

CE_REDUCTIONS = ('none', 'mean', 'sum')


@MODELS.register_module()
class KDSoftCELoss(nn.Module):
    """Soft-label KD as soft cross-entropy (classes on the last dimension).

    `Distilling the Knowledge in a Neural Network
    <https://arxiv.org/abs/1503.02531>`_. Arguments, defaults and numerics
    follow mmrazor's ``KDSoftCELoss`` (mmrazor/models/losses/kd_soft_ce_loss.py,
    v1.0.0), which calls mmcls's ``soft_cross_entropy`` (mmcls 1.0.0rc,
    models/losses/cross_entropy_loss.py and utils.weight_reduce_loss)::

        ce_n = -sum_c softmax(T_n / tau)[c] * log_softmax(S_n / tau)[c]
        ce_n = ce_n * weight_n                       # if weight (cast to float32)
        loss = mean(ce) | sum(ce) | ce               # reduction, or with avg_factor:
             = sum(ce) / avg_factor  ('mean')  | ce ('none')
        loss = loss_weight * loss * (tau^2 if mult_tem_square)

    Unlike :class:`KLDivergence` the softmax is over the *last* dimension
    (mmcls's), and ``'mean'`` averages over samples.

    Args:
        tau: Temperature. Defaults to 1.0.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``; None (accepted by
            mmrazor) then needs ``reduction_override`` in every call.
            Defaults to ``'mean'``.
        mult_tem_square: Multiply by ``tau^2``. Defaults to True.
        loss_weight: Weight of the loss. Defaults to 1.0.

    Forward: ``preds_S``/``preds_T`` N x C (any ... x C), ``weight`` per-sample
    weights broadcastable to N, ``avg_factor`` the divisor for ``'mean'``,
    ``reduction_override`` one of the reductions. The teacher is detached
    (mmrazor does not, its teacher runs under no_grad; same value). Checked
    against a float64 reference (tests/test_models/test_losses/test_kd_soft_ce.py).
    """

    def __init__(self,
                 tau: float = 1.0,
                 reduction: Optional[str] = 'mean',
                 mult_tem_square: bool = True,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        check_tau('KDSoftCELoss', tau)
        check_choice('KDSoftCELoss', 'reduction', reduction, CE_REDUCTIONS + (None, ))
        self.tau = tau
        self.reduction = reduction
        self.mult_tem_square = mult_tem_square
        self.loss_weight = loss_weight

    def forward(self,
                preds_S: torch.Tensor,
                preds_T: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> torch.Tensor:
        reduction = reduction_override if reduction_override else self.reduction
        if reduction is None:
            raise ValueError('KDSoftCELoss: reduction is None; pass reduction_override, one '
                             f'of {list(CE_REDUCTIONS)}, or build with one of them')
        check_choice('KDSoftCELoss', 'reduction_override', reduction, CE_REDUCTIONS)
        if avg_factor is not None and reduction == 'sum':
            raise ValueError("KDSoftCELoss: avg_factor needs reduction 'mean' or 'none', "
                             "got 'sum'")
        check_pair('KDSoftCELoss', ('preds_S', 'preds_T'), preds_S, preds_T, min_dim=1)
        soft_label = F.softmax(preds_T.detach() / self.tau, dim=-1)
        loss = -(soft_label * F.log_softmax(preds_S / self.tau, dim=-1)).sum(dim=-1)
        if weight is not None:
            loss = loss * weight.float()
        if avg_factor is not None:
            loss = loss.sum() / avg_factor if reduction == 'mean' else loss
        elif reduction == 'mean':
            loss = loss.mean()
        elif reduction == 'sum':
            loss = loss.sum()
        loss = self.loss_weight * loss
        if self.mult_tem_square:
            loss = loss * self.tau**2
        return loss
