import torch
import torch.nn.functional as F
from torch import nn

from cankd.registry import MODELS


@MODELS.register_module()
class FTLoss(nn.Module):
    """Factor transfer (FT): L1 distance between L2-normalised factors.

    `Paraphrasing Complex Network: Network Compression via Factor Transfer
    <https://arxiv.org/abs/1802.04977>`_. The factors come from the
    paraphraser / translator connectors; this is only the loss. Arguments
    and numerics follow mmrazor's ``FTLoss``
    (mmrazor/models/losses/factor_transfer_loss.py, v1.0.0)::

        f(x) = x' / max(||x'||_2, 1e-12),  x' = x.reshape(N, -1)
        loss = loss_weight * mean |f(S) - f(T)|      # over all N * D elements

    Args:
        loss_weight: Weight of the loss. Defaults to 1.0.

    Shapes: ``s_feature``/``t_feature`` of the same shape (N x C x H x W or
    N x D). The teacher is detached (mmrazor does not, its teacher runs under
    no_grad; same value). Checked against a float64 reference
    (tests/test_models/test_losses/test_at_ft_loss.py).
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, s_feature: torch.Tensor, t_feature: torch.Tensor) -> torch.Tensor:
        if s_feature.shape != t_feature.shape or s_feature.dim() < 2:
            raise ValueError(
                f'FTLoss: s_feature {tuple(s_feature.shape)} and t_feature '
                f'{tuple(t_feature.shape)} must have the same N x ... shape; map them with '
                'the paraphraser/translator connectors first')
        loss = F.l1_loss(self.factor(s_feature), self.factor(t_feature.detach()))
        return self.loss_weight * loss

    @staticmethod
    def factor(x: torch.Tensor) -> torch.Tensor:
        """N x ... -> N x D with unit L2 norm per sample."""
        return F.normalize(x.reshape(x.size(0), -1), p=2, dim=1)
