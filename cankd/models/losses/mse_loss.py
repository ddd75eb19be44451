import torch
import torch.nn.functional as F
from torch import nn

from cankd.registry import MODELS
from .kl_divergence import check_choice

MSE_REDUCTIONS = ('none', 'mean', 'sum')


@MODELS.register_module()
class MSELoss(nn.Module):
    """Mean squared error between student and teacher features, with the
    ``preds_S``/``preds_T`` arguments of the official CanKD Deformable DETR
    config (``nlkdIN_deformable-detr101_deformable-detr50_50e_coco.py``)::

        loss = loss_weight * mean((S - T)^2)   ('mean') | sum(...) ('sum') | (S - T)^2 ('none')

    That config names ``type='MSELoss'`` in the mmrazor scope, but neither
    mmrazor 1.0 nor the CanKD fork (tori-hotaru/CanKD@f951e3a) registers a
    loss of that name (they only use ``torch.nn.MSELoss`` inside other
    losses), so the official config fails to build there. mmdet's
    ``MSELoss`` (``pred``/``target``, ``weight``/``avg_factor``) stays in the
    mmdet scope (``mmdet.MSELoss``); in the cankd scope ``MSELoss`` is this one.

    Args:
        loss_weight: Weight of the loss. Defaults to 1.0.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Defaults to ``'mean'``.

    Shapes: ``preds_S`` and ``preds_T`` of one shape (N x ...); the teacher is
    detached.
    """

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean') -> None:
        super().__init__()
        check_choice('MSELoss', 'reduction', reduction, MSE_REDUCTIONS)
        self.loss_weight = loss_weight
        self.reduction = reduction

    def forward(self, preds_S: torch.Tensor, preds_T: torch.Tensor) -> torch.Tensor:
        if preds_S.shape != preds_T.shape:
            raise ValueError(
                f'MSELoss: preds_S {tuple(preds_S.shape)} and preds_T {tuple(preds_T.shape)} '
                'must have the same shape; record features of the same stage and width, or '
                'map the student with a connector (e.g. a ConvModuleConnector)')
        loss = F.mse_loss(preds_S, preds_T.detach(), reduction=self.reduction)
        return self.loss_weight * loss
