from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from cankd.registry import MODELS

KL_REDUCTIONS = ('none', 'batchmean', 'sum', 'mean')


def check_choice(where: str, arg: str, value, valid) -> None:
    """Raise ``ValueError`` naming ``arg`` and its valid values."""
    if value not in valid:
        raise ValueError(f'{where}: {arg} must be one of {list(valid)}, got {value!r}')


def check_tau(where: str, tau: float) -> None:
    if not tau > 0:
        raise ValueError(f'{where}: tau must be > 0, got {tau!r}')


def kl_pointwise(log_p_S: torch.Tensor, p_T: torch.Tensor) -> torch.Tensor:
    """Elementwise ``p_T * (log p_T - log p_S)``, 0 where ``p_T`` is 0
    (the terms torch's ``F.kl_div`` sums; ``xlogy(0, 0) = 0``)."""
    return torch.xlogy(p_T, p_T) - p_T * log_p_S


def reduce_kl(pointwise: torch.Tensor, reduction: str) -> torch.Tensor:
    """``F.kl_div``'s reductions: batchmean = sum / size(0), mean = sum / numel."""
    if reduction == 'none':
        return pointwise
    if reduction == 'sum':
        return pointwise.sum()
    if reduction == 'mean':
        return pointwise.mean()
    return pointwise.sum() / pointwise.size(0)


def check_pair(where: str, names, preds_S: torch.Tensor, preds_T: torch.Tensor,
               min_dim: int = 2, max_dim: Optional[int] = None) -> None:
    """Same shape, ``min_dim <= dim <= max_dim``; errors name both arguments."""
    ok = preds_S.shape == preds_T.shape and preds_S.dim() >= min_dim
    if max_dim is not None:
        ok = ok and preds_S.dim() <= max_dim
    if not ok:
        dims = f'{min_dim}' + (f'..{max_dim}' if max_dim != min_dim else '')
        if max_dim is None:
            dims = f'>= {min_dim}'
        raise ValueError(
            f'{where}: {names[0]} {tuple(preds_S.shape)} and {names[1]} '
            f'{tuple(preds_T.shape)} must have the same shape with {dims} dimensions '
            '(N x C, or N x C x H x W where supported); map the student with a connector')


@MODELS.register_module()
class KLDivergence(nn.Module):
    """Soft-label KD: KL divergence teacher -> student over dim 1.

    `Distilling the Knowledge in a Neural Network
    <https://arxiv.org/abs/1503.02531>`_. Arguments, defaults and numerics
    follow mmrazor's ``KLDivergence`` (mmrazor/models/losses/kl_divergence.py,
    v1.0.0), which calls ``F.kl_div(log_softmax(S / tau), softmax(T / tau),
    reduction)``::

        p_T = softmax(T / tau, dim=1),  log p_S = log_softmax(S / tau, dim=1)
        kl  = p_T * (log p_T - log p_S)            # elementwise, 0 where p_T = 0
        loss = loss_weight * tau^2 * reduce(kl)

    ``reduce``: ``'batchmean'`` sum / N, ``'sum'``, ``'mean'`` sum / numel
    (all of N x C x H x W), ``'none'`` elementwise. With N x C x H x W inputs
    each pixel's class distribution is compared.

    Args:
        tau: Temperature. Defaults to 1.0.
        reduction: ``'none'`` | ``'batchmean'`` | ``'sum'`` | ``'mean'``.
            Defaults to ``'batchmean'``.
        loss_weight: Weight of the loss. Defaults to 1.0.
        teacher_detach: Detach ``preds_T`` (mmrazor sets False only for
            data-free distillation). Defaults to True.

    Checked against a float64 reference of the formula above
    (tests/test_models/test_losses/test_kl_divergence.py).
    """

    def __init__(self,
                 tau: float = 1.0,
                 reduction: str = 'batchmean',
                 loss_weight: float = 1.0,
                 teacher_detach: bool = True) -> None:
        super().__init__()
        check_tau('KLDivergence', tau)
        check_choice('KLDivergence', 'reduction', reduction, KL_REDUCTIONS)
        self.tau = tau
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.teacher_detach = teacher_detach

    def forward(self, preds_S: torch.Tensor, preds_T: torch.Tensor) -> torch.Tensor:
        check_pair('KLDivergence', ('preds_S', 'preds_T'), preds_S, preds_T)
        if self.teacher_detach:
            preds_T = preds_T.detach()
        p_T = F.softmax(preds_T / self.tau, dim=1)
        log_p_S = F.log_softmax(preds_S / self.tau, dim=1)
        loss = self.tau**2 * reduce_kl(kl_pointwise(log_p_S, p_T), self.reduction)
        return self.loss_weight * loss
