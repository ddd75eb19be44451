from typing import Optional, Tuple, Union

import torch
from mmcv.cnn import ConvModule

from cankd.registry import MODELS
from .base_connector import BaseConnector


@MODELS.register_module()
class ConvModuleConnector(BaseConnector):
    """Conv (+ norm + activation) connector, e.g. a 1x1 conv lifting a student
    MobileNetV2 ``layer7`` (320 ch) to a teacher ResNet ``layer4`` (2048 ch).

    Arguments follow mmrazor's ``ConvModuleConncetor`` so configs port as they
    are; ``conv_cfg``/``norm_cfg``/``act_cfg`` are mmcv ``ConvModule``'s.

    Shapes: B x ``in_channel`` x H x W -> B x ``out_channel`` x H' x W'.
    """

    def __init__(self,
                 in_channel: int,
                 out_channel: int,
                 kernel_size: Union[int, Tuple[int, int]] = 1,
                 stride: Union[int, Tuple[int, int]] = 1,
                 padding: Union[int, Tuple[int, int]] = 0,
                 dilation: Union[int, Tuple[int, int]] = 1,
                 groups: int = 1,
                 bias: Union[str, bool] = 'auto',
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 inplace: bool = True,
                 order: tuple = ('conv', 'norm', 'act'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.in_channel = in_channel
        self.out_channel = out_channel
        self.conv_module = ConvModule(
            in_channel, out_channel, kernel_size, stride=stride, padding=padding,
            dilation=dilation, groups=groups, bias=bias, conv_cfg=conv_cfg,
            norm_cfg=norm_cfg, act_cfg=act_cfg, inplace=inplace, order=order)

    def forward_train(self, feature: torch.Tensor) -> torch.Tensor:
        if feature.dim() != 4 or feature.shape[1] != self.in_channel:
            got = feature.shape[1] if feature.dim() == 4 else '?'
            raise ValueError(
                f'{type(self).__name__} expects B x {self.in_channel} x H x W, got '
                f'{tuple(feature.shape)}: set in_channel={got} to the channels of the '
                'recorded feature')
        return self.conv_module(feature)


# mmrazor registers it under this spelling; its configs then port unchanged.
MODELS.register_module(name='ConvModuleConncetor', module=ConvModuleConnector)
