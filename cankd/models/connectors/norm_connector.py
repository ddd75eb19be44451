from typing import Optional

import torch
from mmcv.cnn import build_norm_layer

from cankd.registry import MODELS
from .base_connector import BaseConnector


@MODELS.register_module()
class NormConnector(BaseConnector):
    """A normalisation layer from mmcv's ``build_norm_layer`` (mmrazor's
    ``NormConnector``), e.g. ``norm_cfg=dict(type='BN', affine=False,
    track_running_stats=False)`` to standardise a feature before a loss.

    Args:
        in_channels: channels C of the feature.
        norm_cfg: mmcv norm config (``'BN'``, ``'GN'``, ``'LN'``, ...).
        init_cfg: mmengine init config.

    Shapes: N x C x H x W -> N x C x H x W.
    """

    def __init__(self, in_channels: int, norm_cfg: dict,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        _, self.norm = build_norm_layer(norm_cfg, in_channels)

    def forward_train(self, feature: torch.Tensor) -> torch.Tensor:
        return self.norm(feature)
