from typing import Optional, Tuple

import torch
from torch import nn

from cankd.registry import MODELS
from .base_connector import BaseConnector
from .fbkd_common import NonLocal2dMaxpoolNstride, attention_masks


@MODELS.register_module()
class FBKDStudentConnector(BaseConnector):
    """Student connector of FBKD: `Improve Object Detection with Feature-based
    Knowledge Distillation <https://openreview.net/pdf?id=uKhGRvM8QNH>`_
    (ICLR 2021), as mmrazor's ``FBKDStudentConnector``; pair with
    ``FBKDTeacherConnector`` and ``FBKDLoss``.

    Args:
        in_channels: channels C of the feature.
        reduction, conv_cfg, norm_cfg, mode, sub_sample, maxpool_stride,
            zeros_init: of the non-local block
            (:class:`NonLocal2dMaxpoolNstride`); ``mode`` defaults to
            ``'dot_product'``.
        spatial_T, channel_T: temperatures of the attention masks.
        init_cfg: mmengine init config.

    ``forward`` of N x C x H x W returns 6 tensors: spatial mask
    (N x 1 x H x W), channel mask (N x C x 1 x 1), channel-pooled adapted
    feature (N x C), spatial-pooled adapted feature (N x 1 x H x W), adapted
    non-local relation (N x C x H x W) and adapted feature (N x C x H x W).
    """

    def __init__(self, in_channels: int, reduction: int = 2,
                 conv_cfg: dict = dict(type='Conv2d'), norm_cfg: dict = dict(type='BN'),
                 mode: str = 'dot_product', sub_sample: bool = False,
                 maxpool_stride: int = 2, zeros_init: bool = True, spatial_T: float = 0.5,
                 channel_T: float = 0.5, init_cfg: Optional[dict] = None, **kwargs) -> None:
        super().__init__(init_cfg)
        self.channel_wise_adaptation = nn.Linear(in_channels, in_channels)
        self.spatial_wise_adaptation = nn.Conv2d(1, 1, kernel_size=3, stride=1, padding=1)
        self.adaptation_layers = nn.Conv2d(in_channels, in_channels, kernel_size=1)
        self.student_non_local = NonLocal2dMaxpoolNstride(
            in_channels=in_channels, reduction=reduction, conv_cfg=conv_cfg,
            norm_cfg=norm_cfg, mode=mode, sub_sample=sub_sample,
            maxpool_stride=maxpool_stride, zeros_init=zeros_init, **kwargs)
        self.non_local_adaptation = nn.Conv2d(in_channels, in_channels, kernel_size=1)
        self.in_channels = in_channels
        self.spatial_T = spatial_T
        self.channel_T = channel_T

    def forward_train(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        spatial_mask, channel_mask = attention_masks(x, self.spatial_T, self.channel_T)
        feat_adapt = self.adaptation_layers(x)
        channel_pool_adapt = self.channel_wise_adaptation(torch.mean(x, [2, 3]))
        spatial_pool = torch.mean(x, [1], keepdim=True)
        spatial_pool_adapt = self.spatial_wise_adaptation(spatial_pool)
        relation_adapt = self.non_local_adaptation(self.student_non_local(x))
        return (spatial_mask, channel_mask, channel_pool_adapt, spatial_pool_adapt,
                relation_adapt, feat_adapt)
