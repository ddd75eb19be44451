import torch
from torch import nn

from cankd.registry import MODELS
from .ofd_loss import check_same_shape


@MODELS.register_module()
class ABLoss(nn.Module):
    """Activation boundaries (AB) distillation.

    `Knowledge Transfer via Distillation of Activation Boundaries Formed by
    Hidden Neurons <https://arxiv.org/abs/1811.03233>`_. A squared hinge with
    margin ``m`` pushes each student pre-activation to the side of zero the
    teacher's neuron is on. Arguments, defaults and numerics follow mmrazor's
    ``ABLoss`` (mmrazor/models/losses/ab_loss.py, v1.0.0), including its fixed
    3 / 1000 scale::

        e = (S + m)^2 * [S > -m and T <= 0] + (S - m)^2 * [S <= m and T > 0]
        loss = loss_weight * sum(e) / N / 1000 * 3

    Args:
        loss_weight: Weight of the loss. Defaults to 1.0.
        margin: The margin ``m``. Defaults to 1.0.

    Shapes: ``s_feature``/``t_feature`` of one shape, N x C x H x W (or N x D).
    The teacher is detached (mmrazor does not, its teacher runs under no_grad;
    same value). Checked against a float64 reference
    (tests/test_models/test_losses/test_ofd_ab_loss.py).
    """

    def __init__(self, loss_weight: float = 1.0, margin: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.margin = margin

    def forward(self, s_feature: torch.Tensor, t_feature: torch.Tensor) -> torch.Tensor:
        check_same_shape('ABLoss', s_feature, t_feature)
        t_feature = t_feature.detach()
        m, s = self.margin, s_feature
        off = ((s > -m) & (t_feature <= 0)).to(s.dtype)  # teacher inactive
        on = ((s <= m) & (t_feature > 0)).to(s.dtype)    # teacher active
        loss = ((s + m).pow(2) * off + (s - m).pow(2) * on).sum()
        return self.loss_weight * (loss / s.size(0) / 1000 * 3)
