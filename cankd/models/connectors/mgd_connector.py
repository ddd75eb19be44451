from typing import Optional

import torch
from torch import nn

from cankd.registry import MODELS
from .base_connector import BaseConnector


@MODELS.register_module()
@MODELS.register_module(name='MGDConncetor')  # mmrazor's spelling: its configs port as is
class MGDConnector(BaseConnector):
    """Random masking + generation block of MGD, applied to the student.

    `Masked Generative Distillation <https://arxiv.org/abs/2205.01529>`_. As
    mmrazor's ``MGDConncetor`` (also registered under that name):

    1. ``align``: 1x1 conv ``student_channels -> teacher_channels`` when they
       differ (absent otherwise);
    2. random mask: each spatial position (or, with ``mask_on_channel``, each
       channel, as the official classification code) of each sample is zeroed
       with probability ``lambda_mgd``; a fresh mask every call;
    3. ``generation``: conv3x3 -> ReLU -> conv3x3, ``teacher_channels`` wide,
       trying to rebuild the teacher's full feature.

    Pair it with :class:`~cankd.models.losses.MGDLoss`.

    Args:
        student_channels: Channels of the student feature.
        teacher_channels: Channels of the teacher feature.
        lambda_mgd: Masked ratio, in [0, 1]. Defaults to 0.65.
        mask_on_channel: Mask whole channels instead of spatial positions.
            Defaults to False.
        init_cfg: mmengine init config. Defaults to None.

    Shapes: N x ``student_channels`` x H x W -> N x ``teacher_channels`` x H x W.
    """

    def __init__(self,
                 student_channels: int,
                 teacher_channels: int,
                 lambda_mgd: float = 0.65,
                 mask_on_channel: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if not 0 <= lambda_mgd <= 1:
            raise ValueError(f'MGDConnector: lambda_mgd is a masked ratio in [0, 1], '
                             f'got {lambda_mgd}')
        self.student_channels = student_channels
        self.teacher_channels = teacher_channels
        self.lambda_mgd = lambda_mgd
        self.mask_on_channel = mask_on_channel
        self.align = (nn.Conv2d(student_channels, teacher_channels, kernel_size=1)
                      if student_channels != teacher_channels else None)
        self.generation = nn.Sequential(
            nn.Conv2d(teacher_channels, teacher_channels, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(teacher_channels, teacher_channels, kernel_size=3, padding=1))

    def random_mask(self, feature: torch.Tensor) -> torch.Tensor:
        """0/1 mask broadcastable to ``feature``; 0 with probability lambda_mgd."""
        N, C, H, W = feature.shape
        shape = (N, C, 1, 1) if self.mask_on_channel else (N, 1, H, W)
        # Same rule as mmrazor (rand > 1 - lambda -> masked).
        rand = torch.rand(shape, device=feature.device)
        return (rand <= 1 - self.lambda_mgd).to(feature.dtype)

    def forward_train(self, feature: torch.Tensor) -> torch.Tensor:
        if feature.dim() != 4 or feature.shape[1] != self.student_channels:
            raise ValueError(
                f'MGDConnector expects N x {self.student_channels} x H x W, got '
                f'{tuple(feature.shape)}: set student_channels to the channels of the '
                'recorded student feature')
        if self.align is not None:
            feature = self.align(feature)
        return self.generation(feature * self.random_mask(feature))
