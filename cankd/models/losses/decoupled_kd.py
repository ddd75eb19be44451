import torch
import torch.nn.functional as F
from torch import nn

from cankd.registry import MODELS
from .kl_divergence import KL_REDUCTIONS, check_choice, check_pair, check_tau, kl_pointwise


@MODELS.register_module()
class DKDLoss(nn.Module):
    """Decoupled knowledge distillation (DKD).

    `Decoupled Knowledge Distillation <https://arxiv.org/abs/2203.08679>`_.
    KD split into target-class (TCKD) and non-target-class (NCKD) terms, for
    N x C logits and N ground-truth labels. Arguments, defaults and numerics
    follow mmrazor's ``DKDLoss`` (mmrazor/models/losses/decoupled_kd.py,
    v1.0.0)::

        p = softmax(logits / tau)                          # both sides
        b = [p[gt], sum_{c != gt} p[c]]                    # binary split
        TCKD = sum_n KL(b_T || b_S)
        q = softmax(logits / tau - 1000 * onehot(gt))      # gt class masked out
        NCKD = sum_n KL(q_T || q_S)
        loss = loss_weight * tau^2 * (alpha * TCKD + beta * NCKD) / R

    ``R`` is N for ``reduction='batchmean'`` and 1 otherwise: mmrazor's
    ``F.kl_div`` call also passes ``size_average=False``, which overrides the
    reduction with ``'sum'`` (torch then still divides by N for
    ``'batchmean'``), so ``'none'``, ``'mean'`` and ``'sum'`` all give the
    sum. Kept that way so configs give mmrazor's numbers. The gt class is
    masked by subtracting 1000 (not -inf), as mmrazor.

    Args:
        tau: Temperature. Defaults to 1.0.
        alpha: Weight of TCKD. Defaults to 1.0.
        beta: Weight of NCKD. Defaults to 1.0.
        reduction: ``'none'`` | ``'batchmean'`` | ``'sum'`` | ``'mean'``, see
            above. Defaults to ``'batchmean'``.
        loss_weight: Weight of the loss. Defaults to 1.0.

    Shapes: ``preds_S``/``preds_T`` N x C, ``gt_labels`` N integer labels.
    The teacher is detached (mmrazor does not, its teacher runs under
    no_grad; the value is the same). Checked against a float64 reference
    that builds b and q explicitly (tests/test_models/test_losses/test_decoupled_kd.py).
    """

    def __init__(self,
                 tau: float = 1.0,
                 alpha: float = 1.0,
                 beta: float = 1.0,
                 reduction: str = 'batchmean',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        check_tau('DKDLoss', tau)
        check_choice('DKDLoss', 'reduction', reduction, KL_REDUCTIONS)
        self.tau = tau
        self.alpha = alpha
        self.beta = beta
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, preds_S: torch.Tensor, preds_T: torch.Tensor,
                gt_labels: torch.Tensor) -> torch.Tensor:
        check_pair('DKDLoss', ('preds_S', 'preds_T'), preds_S, preds_T, max_dim=2)
        N, C = preds_S.shape
        if gt_labels.numel() != N or gt_labels.is_floating_point():
            raise ValueError(f'DKDLoss: gt_labels must hold N={N} integer class indices, got '
                             f'{gt_labels.dtype} of shape {tuple(gt_labels.shape)}')
        labels = gt_labels.reshape(N, 1).long()
        if N and (labels.min() < 0 or labels.max() >= C):
            raise ValueError(f'DKDLoss: gt_labels must lie in [0, {C - 1}], got '
                             f'{labels.min().item()}..{labels.max().item()}')
        preds_T = preds_T.detach()
        gt = torch.zeros_like(preds_S).scatter_(1, labels, 1.0)
        logits_S, logits_T = preds_S / self.tau, preds_T / self.tau

        def binary(logits):
            p = F.softmax(logits, dim=1)
            return torch.cat([(p * gt).sum(1, keepdim=True), (p * (1 - gt)).sum(1, keepdim=True)],
                             dim=1)

        tckd = kl_pointwise(binary(logits_S).log(), binary(logits_T)).sum()
        nckd = kl_pointwise(F.log_softmax(logits_S - 1000.0 * gt, dim=1),
                            F.softmax(logits_T - 1000.0 * gt, dim=1)).sum()
        loss = (self.alpha * tckd + self.beta * nckd) * self.tau**2
        if self.reduction == 'batchmean':
            loss = loss / N
        return self.loss_weight * loss
