from typing import Optional, Tuple

import torch

from cankd.registry import MODELS
from .base_connector import BaseConnector
from .fbkd_common import NonLocal2dMaxpoolNstride, attention_masks


@MODELS.register_module()
class FBKDTeacherConnector(BaseConnector):
    """Teacher connector of FBKD (`ICLR 2021
    <https://openreview.net/pdf?id=uKhGRvM8QNH>`_), as mmrazor's
    ``FBKDTeacherConnector``; same arguments as ``FBKDStudentConnector``.

    ``forward`` of N x C x H x W returns 5 tensors: spatial mask
    (N x 1 x H x W), channel mask (N x C x 1 x 1), spatial-pooled feature
    (N x 1 x H x W), non-local relation (N x C x H x W) and the input itself.
    """

    def __init__(self, in_channels: int, reduction: int = 2,
                 conv_cfg: dict = dict(type='Conv2d'), norm_cfg: dict = dict(type='BN'),
                 mode: str = 'dot_product', sub_sample: bool = False,
                 maxpool_stride: int = 2, zeros_init: bool = True, spatial_T: float = 0.5,
                 channel_T: float = 0.5, init_cfg: Optional[dict] = None, **kwargs) -> None:
        super().__init__(init_cfg)
        self.teacher_non_local = NonLocal2dMaxpoolNstride(
            in_channels=in_channels, reduction=reduction, conv_cfg=conv_cfg,
            norm_cfg=norm_cfg, mode=mode, sub_sample=sub_sample,
            maxpool_stride=maxpool_stride, zeros_init=zeros_init, **kwargs)
        self.in_channels = in_channels
        self.spatial_T = spatial_T
        self.channel_T = channel_T

    def forward_train(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        spatial_mask, channel_mask = attention_masks(x, self.spatial_T, self.channel_T)
        spatial_pool = torch.mean(x, [1], keepdim=True)
        return spatial_mask, channel_mask, spatial_pool, self.teacher_non_local(x), x
