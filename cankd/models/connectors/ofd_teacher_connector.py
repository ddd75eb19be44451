import math
from typing import Optional

import torch
from torch import nn

from cankd.registry import MODELS
from .base_connector import BaseConnector


@MODELS.register_module()
class OFDTeacherConnector(BaseConnector):
    """Teacher connector of OFD: `A Comprehensive Overhaul of Feature
    Distillation <https://arxiv.org/abs/1904.01866>`_ (ICCV 2019), as
    mmrazor's ``OFDTeacherConnector``: ``max(t_feature.detach(), margin)``,
    the teacher's pre-ReLU feature with negatives clipped at a per-channel
    margin.

    ``margin`` (1 x C x 1 x 1) is set by :meth:`init_margin`, typically with
    :meth:`margin_from_bn` of the teacher's BN layer that produced the
    feature (mmrazor's ``OFDDistiller.init_ofd_connectors``). Unlike mmrazor
    it is a buffer: it follows ``.to(device)`` and is saved in, and loaded
    from, checkpoints. Using the connector before it is set is an error.

    Shapes: N x C x H x W -> N x C x H x W.
    """

    def __init__(self, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.register_buffer('margin', None)

    def init_margin(self, margin: torch.Tensor) -> None:
        """Set the margin (1 x C x 1 x 1, or broadcastable to the feature)."""
        self.margin = margin.detach().clone()

    @staticmethod
    def margin_from_bn(bn: nn.Module) -> torch.Tensor:
        """OFD's margin from a BN layer's affine parameters (gamma as std s,
        beta as mean m of a Gaussian): ``E[x | x < 0] = m - s * phi(m/s) /
        Phi(-m/s)`` where ``Phi(-m/s) > 0.001``, else ``-3 s``. Returns
        1 x C x 1 x 1 (float32), as mmrazor's ``_get_margin_from_BN`` (which
        uses scipy; this uses ``torch.special.ndtr``)."""
        s = bn.weight.detach().double().abs()
        m = bn.bias.detach().double()
        cdf = torch.special.ndtr(-m / s)
        pdf = torch.exp(-(m / s)**2 / 2) / math.sqrt(2 * math.pi)
        margin = torch.where(cdf > 0.001, -s * pdf / cdf + m, -3 * s)
        return margin.float().view(1, -1, 1, 1)

    def forward_train(self, feature: torch.Tensor) -> torch.Tensor:
        if self.margin is None:
            raise _MarginNotSet('OFDTeacherConnector: margin must be initialized before '
                                'training (init_margin(OFDTeacherConnector.margin_from_bn('
                                'teacher_bn)))')
        if self.margin.device != feature.device:
            self.margin = self.margin.to(feature.device)
        return torch.max(feature.detach(), self.margin)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # A margin saved in a checkpoint is taken even before init_margin.
        key = prefix + 'margin'
        if self.margin is None and state_dict.get(key) is not None:
            self.margin = torch.empty_like(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class _MarginNotSet(RuntimeError, AssertionError):
    """mmrazor asserts here, hence also an AssertionError."""
