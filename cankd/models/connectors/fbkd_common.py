"""Parts shared by FBKD's student and teacher connectors (mmrazor's
mmrazor/models/architectures/connectors/fbkd_connector.py)."""
from typing import Tuple

import torch
from mmcv.cnn import NonLocal2d
from torch import nn


class NonLocal2dMaxpoolNstride(NonLocal2d):
    """mmcv's ``NonLocal2d`` whose ``g``/``phi`` are followed by a
    ``maxpool_stride`` max pool when ``sub_sample``.

    As in mmrazor, this pool comes *on top of* the 2x2 pool ``NonLocal2d``
    itself adds for ``sub_sample``, so keys and outputs match mmrazor's
    checkpoints (``g.0.0.conv.weight``, ...). Shapes: N x C x H x W ->
    N x C x H x W.
    """

    def __init__(self, in_channels: int, reduction: int = 2,
                 conv_cfg: dict = dict(type='Conv2d'), norm_cfg: dict = dict(type='BN'),
                 mode: str = 'embedded_gaussian', sub_sample: bool = False,
                 maxpool_stride: int = 2, zeros_init: bool = True, **kwargs) -> None:
        super().__init__(in_channels=in_channels, sub_sample=sub_sample, conv_cfg=conv_cfg,
                         norm_cfg=norm_cfg, reduction=reduction, mode=mode,
                         zeros_init=zeros_init, **kwargs)
        self.norm_cfg = norm_cfg
        if sub_sample:
            pool = nn.MaxPool2d(kernel_size=(maxpool_stride, maxpool_stride))
            self.g = nn.Sequential(self.g, pool)
            self.phi = nn.Sequential(self.phi, pool) if self.mode != 'gaussian' else pool


def attention_masks(x: torch.Tensor, spatial_T: float,
                    channel_T: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """FBKD's attention masks of ``x`` (N x C x H x W): spatial
    ``H*W * softmax_hw(mean_c|x| / spatial_T)`` (N x 1 x H x W) and channel
    ``C * softmax_c(mean_hw|x| / channel_T)`` (N x C x 1 x 1)."""
    n, c, h, w = x.shape
    spatial = torch.mean(torch.abs(x), [1], keepdim=True).view(n, -1)
    spatial = (torch.softmax(spatial / spatial_T, dim=1) * h * w).view(n, 1, h, w)
    channel = torch.mean(torch.abs(x), [2, 3], keepdim=True).view(n, -1)
    channel = (torch.softmax(channel / channel_T, dim=1) * c).view(n, c, 1, 1)
    return spatial, channel
