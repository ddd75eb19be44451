import torch
import torch.nn.functional as F
from torch import nn

from cankd.registry import MODELS


def check_same_shape(where: str, s_feature: torch.Tensor, t_feature: torch.Tensor) -> None:
    if s_feature.shape != t_feature.shape or s_feature.dim() < 2:
        raise ValueError(
            f'{where}: s_feature {tuple(s_feature.shape)} and t_feature '
            f'{tuple(t_feature.shape)} must have the same N x ... shape; map the student '
            'with a connector (e.g. a ConvModuleConnector)')


@MODELS.register_module()
class OFDLoss(nn.Module):
    """Overhaul of feature distillation (OFD): partial L2 distance.

    `A Comprehensive Overhaul of Feature Distillation
    <https://arxiv.org/abs/1904.01866>`_. The teacher feature is taken before
    its ReLU (with the margin applied by the connector); positions where the
    teacher is negative and the student already below it cost nothing.
    Arguments, defaults and numerics follow mmrazor's ``OFDLoss``
    (mmrazor/models/losses/ofd_loss.py, v1.0.0)::

        m = (S > T) | (T > 0)
        loss = loss_weight * sum(m * (S - T)^2) / N / mul_factor

    Args:
        loss_weight: Weight of the loss. Defaults to 1.0.
        mul_factor: Divisor of the summed loss. Defaults to 1000.

    Shapes: ``s_feature``/``t_feature`` of one shape, N x C x H x W (or N x D).
    The teacher is detached (mmrazor does not, its teacher runs under no_grad;
    same value). Checked against a float64 reference
    (tests/test_models/test_losses/test_ofd_ab_loss.py).
    """

    def __init__(self, loss_weight: float = 1.0, mul_factor: float = 1000.) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.mul_factor = mul_factor

    def forward(self, s_feature: torch.Tensor, t_feature: torch.Tensor) -> torch.Tensor:
        check_same_shape('OFDLoss', s_feature, t_feature)
        t_feature = t_feature.detach()
        loss = F.mse_loss(s_feature, t_feature, reduction='none')
        loss = loss * ((s_feature > t_feature) | (t_feature > 0)).to(loss.dtype)
        return self.loss_weight * (loss.sum() / s_feature.size(0) / self.mul_factor)
