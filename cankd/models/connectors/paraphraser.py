from typing import Optional

import torch
from torch import nn

from cankd.registry import MODELS
from .base_connector import BaseConnector
from .translator import conv_stack

PHASES = ('pretrain', 'train')


@MODELS.register_module()
class Paraphraser(BaseConnector):
    """Teacher connector of factor transfer (`NeurIPS 2018
    <https://arxiv.org/abs/1802.04977>`_), as mmrazor's ``Paraphraser``: an
    encoder (3x3 convs ``in -> in -> out -> out``) and a decoder (3x3
    transposed convs ``out -> out -> in -> in``), BN optional, LeakyReLU(0.1).

    ``forward`` depends on ``phase``:

    * ``'pretrain'``: ``decoder(encoder(x))``, the reconstruction of the
      teacher feature (N x ``in_channel`` x H x W) trained against ``x``
      (mmrazor's first stage, with the student frozen);
    * ``'train'``: ``encoder(x)`` under ``no_grad``, the teacher's factor
      (N x ``out_channel`` x H x W); the pretrained paraphraser is frozen.

    ``forward_train`` / ``forward_pretrain`` run either one regardless.
    """

    def __init__(self, in_channel: int, out_channel: int, phase: str = 'pretrain',
                 use_bn: Optional[bool] = False, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if phase not in PHASES:
            raise ValueError(f'Paraphraser: unexpected phase {phase!r}; valid: {list(PHASES)}')
        self.phase = phase
        self.encoder = conv_stack(nn.Conv2d, [in_channel, in_channel, out_channel,
                                              out_channel], bool(use_bn))
        self.decoder = conv_stack(nn.ConvTranspose2d, [out_channel, out_channel, in_channel,
                                                       in_channel], bool(use_bn))

    def forward_train(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.encoder(x)

    def forward_pretrain(self, t_feat: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(t_feat))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.phase == 'train':
            return self.forward_train(x)
        if self.phase == 'pretrain':
            return self.forward_pretrain(x)
        raise NotImplementedError(f'phase: `{self.phase}` is not supported.')
