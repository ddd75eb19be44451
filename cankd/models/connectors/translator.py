from typing import Optional

import torch
from torch import nn

from cankd.registry import MODELS
from .base_connector import BaseConnector


def conv_stack(conv: type, channels: list, use_bn: bool) -> nn.Sequential:
    """3x3 ``conv`` (stride 1, padding 1) + BN (or an empty placeholder, so
    indices match mmrazor's keys) + LeakyReLU(0.1) for each consecutive pair
    of ``channels``."""
    layers = []
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        layers += [conv(c_in, c_out, 3, 1, 1),
                   nn.BatchNorm2d(c_out) if use_bn else nn.Sequential(),
                   nn.LeakyReLU(0.1, inplace=True)]
    return nn.Sequential(*layers)


@MODELS.register_module()
class Translator(BaseConnector):
    """Student connector of factor transfer: `Paraphrasing Complex Network:
    Network Compression via Factor Transfer <https://arxiv.org/abs/1802.04977>`_
    (NeurIPS 2018), as mmrazor's ``Translator``: three 3x3 convs
    ``in -> in -> out -> out``, each with BN (``use_bn``) and LeakyReLU(0.1).
    Its output is compared with the teacher's :class:`Paraphraser` factor.

    Shapes: N x ``in_channel`` x H x W -> N x ``out_channel`` x H x W.
    """

    def __init__(self, in_channel: int, out_channel: int, use_bn: Optional[bool] = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.encoder = conv_stack(nn.Conv2d, [in_channel, in_channel, out_channel,
                                              out_channel], bool(use_bn))

    def forward_train(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)
