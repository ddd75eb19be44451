from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from cankd.registry import MODELS
from .kl_divergence import check_choice
from .ofd_loss import check_same_shape

L1_REDUCTIONS = ('none', 'mean', 'sum')


@MODELS.register_module()
class L1Loss(nn.Module):
    """mmrazor's ``L1Loss``: L1 distance between student and teacher features.

    Registered in cankd's scope under mmrazor's name, so ``type='L1Loss'`` in
    a cankd distiller is this loss, while mmdet heads built in the mmdet scope
    keep mmdet's ``L1Loss``. Arguments, defaults and numerics follow mmrazor's
    ``L1Loss`` (mmrazor/models/losses/l1_loss.py, v1.0.0), i.e.
    ``F.l1_loss(S, T, size_average, reduce, reduction)``::

        loss = loss_weight * mean|S - T|  ('mean') | sum|S - T|  ('sum') | |S - T|  ('none')

    The deprecated ``size_average``/``reduce`` flags, when either is given,
    override ``reduction`` as in torch: reduce=False -> 'none', else
    size_average=False -> 'sum', else 'mean'.

    Args:
        loss_weight: Weight of the loss (DFAD uses -1). Defaults to 1.0.
        size_average: Deprecated torch flag, see above. Defaults to None.
        reduce: Deprecated torch flag, see above. Defaults to None.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Defaults to ``'mean'``.
            (mmrazor also accepts ``'batchmean'`` when built but
            ``F.l1_loss`` then fails; here it is refused when built.)

    Shapes: ``s_feature``/``t_feature`` of one shape (N x C x H x W or N x C).
    The teacher is detached (mmrazor does not, its teacher runs under no_grad;
    same value). Checked against a float64 reference
    (tests/test_models/test_losses/test_l1_loss.py).
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 size_average: Optional[bool] = None,
                 reduce: Optional[bool] = None,
                 reduction: str = 'mean') -> None:
        super().__init__()
        if size_average is None and reduce is None:
            check_choice('L1Loss', 'reduction', reduction, L1_REDUCTIONS)
        self.loss_weight = loss_weight
        self.size_average = size_average
        self.reduce = reduce
        self.reduction = reduction

    @property
    def effective_reduction(self) -> str:
        """``reduction``, or what the legacy flags make of it (torch's rule)."""
        if self.size_average is None and self.reduce is None:
            return self.reduction
        if self.reduce is False:
            return 'none'
        return 'sum' if self.size_average is False else 'mean'

    def forward(self, s_feature: torch.Tensor, t_feature: torch.Tensor) -> torch.Tensor:
        check_same_shape('L1Loss', s_feature, t_feature)
        loss = F.l1_loss(s_feature, t_feature.detach(), reduction=self.effective_reduction)
        return self.loss_weight * loss
