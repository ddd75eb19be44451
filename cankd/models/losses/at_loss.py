import torch
import torch.nn.functional as F
from torch import nn

from cankd.registry import MODELS


@MODELS.register_module()
class ATLoss(nn.Module):
    """Attention transfer (AT).

    `Paying More Attention to Attention <https://arxiv.org/abs/1612.03928>`_.
    Each map is reduced to a spatial attention map, the channel mean of the
    squared activations, flattened and L2-normalised per sample; the loss is
    the mean squared difference. Arguments and numerics follow mmrazor's
    ``ATLoss`` (mmrazor/models/losses/at_loss.py, v1.0.0)::

        a(x) = q / max(||q||_2, 1e-12),  q = mean_c(x^2).reshape(N, H*W)
        loss = loss_weight * mean_{n,p} (a(S) - a(T))^2    # over N * H * W

    Args:
        loss_weight: Weight of the loss. Defaults to 1.0.

    Shapes: ``s_feature``/``t_feature`` N x C x H x W; the channel counts may
    differ (the attention map averages them out), N and H x W must match.
    The teacher is detached (mmrazor does not, its teacher runs under no_grad;
    same value). Checked against a float64 reference
    (tests/test_models/test_losses/test_at_ft_loss.py).
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, s_feature: torch.Tensor, t_feature: torch.Tensor) -> torch.Tensor:
        if (s_feature.dim() < 2 or s_feature.dim() != t_feature.dim()
                or s_feature.shape[0] != t_feature.shape[0]
                or s_feature.shape[2:] != t_feature.shape[2:]):
            raise ValueError(
                f'ATLoss: s_feature {tuple(s_feature.shape)} and t_feature '
                f'{tuple(t_feature.shape)} must be N x C x H x W with the same N and H x W '
                '(C may differ); resize one of them first')
        diff = self.attention(s_feature) - self.attention(t_feature.detach())
        return self.loss_weight * diff.pow(2).mean()

    @staticmethod
    def attention(x: torch.Tensor) -> torch.Tensor:
        """N x C x H x W -> N x (H*W): channel mean of x^2, unit L2 norm per sample."""
        return F.normalize(x.pow(2).mean(1).reshape(x.size(0), -1), p=2, dim=1)
