from typing import Optional, Sequence

import torch
from torch import nn

from cankd.registry import MODELS

S_PARTS = ('s_spatial_mask', 's_channel_mask', 's_channel_pool_adapt', 's_spatial_pool_adapt',
           's_relation_adapt', 's_feat_adapt')
T_PARTS = ('t_spatial_mask', 't_channel_mask', 't_spatial_pool', 't_relation', 't_feat')


def masked_l2(a: torch.Tensor, b: torch.Tensor,
              spatial_mask: Optional[torch.Tensor] = None,
              channel_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """sqrt(sum((a - b)^2 * spatial_mask * channel_mask)), masks broadcast."""
    diff = (a - b).pow(2)
    if spatial_mask is not None:
        diff = diff * spatial_mask
    if channel_mask is not None:
        diff = diff * channel_mask
    return diff.sum().pow(0.5)


@MODELS.register_module()
class FBKDLoss(nn.Module):
    """FBKD: attention-guided and non-local feature distillation.

    `Improve Object Detection with Feature-based Knowledge Distillation:
    Towards Accurate and Efficient Detectors
    <https://openreview.net/forum?id=uKhGRvM8QNH>`_ (ICLR 2021). The inputs
    are what ``FBKDStudentConnector`` / ``FBKDTeacherConnector`` return for
    one FPN level; this sums four terms. Arguments (``nonloacl_weight``
    spelt as mmrazor), defaults (the official code's) and numerics follow
    mmrazor's ``FBKDLoss`` (mmrazor/models/losses/fbkd_loss.py, v1.0.0)::

        M = detach((t_spatial_mask + s_spatial_mask) / 2)       # N x 1 x H x W
        feat     = sqrt(sum(M * (t_feat - s_feat_adapt)^2))
        channel  = || mean_hw(t_feat) - s_channel_pool_adapt ||_2    # over N x C
        spatial  = || t_spatial_pool - s_spatial_pool_adapt ||_2     # over N x 1 x H x W
        nonlocal = || t_relation - s_relation_adapt ||_2             # over N x C x H x W
        loss = loss_weight * (mask_l2_weight * feat + channel_weight * channel
                              + spatial_weight * spatial + nonloacl_weight * nonlocal)

    The norms are over all elements at once (``torch.dist``), not averaged.
    The channel masks are part of the inputs but unused, as in mmrazor and the
    official code. Gradients: the mask is detached (as mmrazor); ``t_feat``
    and ``t_spatial_pool`` (plain teacher features) are detached; ``t_relation``
    is *not*, since it comes out of the teacher connector's trainable
    non-local block, which mmrazor trains through this term.

    Args:
        mask_l2_weight: Weight of the masked feature term. Defaults to 7e-5.
        channel_weight: Weight of the channel-pool term. Defaults to 4e-3.
        spatial_weight: Weight of the spatial-pool term. Defaults to 4e-3.
        nonloacl_weight: Weight of the non-local term. Defaults to 7e-5.
        loss_weight: Weight of the loss. Defaults to 1.0.

    Forward: ``s_input`` the 6-tuple ``(s_spatial_mask, s_channel_mask,
    s_channel_pool_adapt, s_spatial_pool_adapt, s_relation_adapt,
    s_feat_adapt)``, ``t_input`` the 5-tuple ``(t_spatial_mask,
    t_channel_mask, t_spatial_pool, t_relation, t_feat)``. Checked against a
    float64 reference of the formula above (tests/test_models/test_losses/test_fbkd_loss.py).
    """

    def __init__(self,
                 mask_l2_weight: float = 7e-5,
                 channel_weight: float = 4e-3,
                 spatial_weight: float = 4e-3,
                 nonloacl_weight: float = 7e-5,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        self.mask_l2_weight = mask_l2_weight
        self.channel_weight = channel_weight
        self.spatial_weight = spatial_weight
        self.nonloacl_weight = nonloacl_weight
        self.loss_weight = loss_weight

    @staticmethod
    def _unpack(arg: str, value: Sequence[torch.Tensor], parts: Sequence[str]):
        if isinstance(value, torch.Tensor) or len(value) != len(parts):
            got = (f'a tensor {tuple(value.shape)}' if isinstance(value, torch.Tensor) else
                   f'{len(value)} items')
            raise ValueError(f'FBKDLoss: {arg} must be the {len(parts)}-tuple {parts} (the '
                             f'output of the FBKD connector), got {got}; map {arg} through '
                             f'an FBKD{"Student" if arg[0] == "s" else "Teacher"}Connector')
        return value

    def forward(self, s_input: Sequence[torch.Tensor],
                t_input: Sequence[torch.Tensor]) -> torch.Tensor:
        (s_spatial_mask, _, s_channel_pool_adapt, s_spatial_pool_adapt, s_relation_adapt,
         s_feat_adapt) = self._unpack('s_input', s_input, S_PARTS)
        t_spatial_mask, _, t_spatial_pool, t_relation, t_feat = self._unpack(
            't_input', t_input, T_PARTS)
        if t_feat.shape != s_feat_adapt.shape or t_feat.dim() != 4:
            raise ValueError(f'FBKDLoss: t_feat {tuple(t_feat.shape)} and s_feat_adapt '
                             f'{tuple(s_feat_adapt.shape)} must be N x C x H x W of one shape')
        t_feat, t_spatial_pool = t_feat.detach(), t_spatial_pool.detach()
        mask = ((t_spatial_mask + s_spatial_mask) / 2).detach()
        feat = masked_l2(t_feat, s_feat_adapt, spatial_mask=mask)
        channel = torch.dist(t_feat.mean(dim=(2, 3)), s_channel_pool_adapt)
        spatial = torch.dist(t_spatial_pool, s_spatial_pool_adapt)
        nonlocal_ = torch.dist(t_relation, s_relation_adapt, p=2)
        loss = (self.mask_l2_weight * feat + self.channel_weight * channel
                + self.spatial_weight * spatial + self.nonloacl_weight * nonlocal_)
        return self.loss_weight * loss
