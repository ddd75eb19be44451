from typing import Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from cankd.registry import MODELS

Features = Union[torch.Tensor, Sequence[torch.Tensor]]


@MODELS.register_module()
class PKDLoss(nn.Module):
    """PKD: feature imitation via the Pearson correlation coefficient.

    `PKD: General Distillation Framework for Object Detectors via Pearson
    Correlation Coefficient <https://arxiv.org/abs/2207.02039>`_. Both maps
    are standardised per channel over (batch, H, W) (unbiased std, + 1e-6 as
    mmrazor), then compared by MSE / 2, which is (1 - r) * (n - 1) / n averaged
    over channels (r: Pearson correlation of a channel, n = N * H * W).
    Levels of a tuple (FPN) are summed::

        loss = loss_weight * sum_levels MSE(norm(S_l), norm(T_l)) / 2

    Args:
        loss_weight: Weight of the loss. Defaults to 1.0.
        resize_stu: When the spatial sizes differ, resize the student to the
            teacher's size (bilinear); if False resize the teacher to the
            student's. Defaults to True.

    Shapes: ``preds_S``/``preds_T`` are N x C x H x W tensors, or equally
    long tuples of them (one per FPN level); C must match per level.
    """

    def __init__(self, loss_weight: float = 1.0, resize_stu: bool = True) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.resize_stu = resize_stu

    @staticmethod
    def norm(feat: torch.Tensor) -> torch.Tensor:
        """Zero mean, unit (unbiased) std per channel over (N, H, W)."""
        N, C, H, W = feat.shape
        flat = feat.transpose(0, 1).reshape(C, -1)
        flat = (flat - flat.mean(dim=1, keepdim=True)) / (flat.std(dim=1, keepdim=True) + 1e-6)
        return flat.reshape(C, N, H, W).transpose(0, 1)

    def forward(self, preds_S: Features, preds_T: Features) -> torch.Tensor:
        if isinstance(preds_S, torch.Tensor) != isinstance(preds_T, torch.Tensor):
            raise ValueError('PKDLoss: preds_S and preds_T must both be tensors or both '
                             f'tuples, got {type(preds_S).__name__} and '
                             f'{type(preds_T).__name__}')
        if isinstance(preds_S, torch.Tensor):
            preds_S, preds_T = (preds_S, ), (preds_T, )
        if len(preds_S) != len(preds_T):
            raise ValueError(f'PKDLoss: {len(preds_S)} student levels but {len(preds_T)} '
                             'teacher levels; record the same FPN outputs on both sides')
        loss = 0.
        for level, (pred_S, pred_T) in enumerate(zip(preds_S, preds_T)):
            # The teacher is a fixed target: never back-propagate into it.
            pred_T = pred_T.detach()
            if pred_S.dim() != 4 or pred_T.dim() != 4 or pred_S.shape[:2] != pred_T.shape[:2]:
                raise ValueError(
                    f'PKDLoss: level {level}: student {tuple(pred_S.shape)} and teacher '
                    f'{tuple(pred_T.shape)} must be N x C x H x W with the same N and C; '
                    'map the student channels with a connector (e.g. a ConvModuleConnector)')
            if pred_S.shape[2:] != pred_T.shape[2:]:
                if self.resize_stu:
                    pred_S = F.interpolate(pred_S, pred_T.shape[2:], mode='bilinear')
                else:
                    pred_T = F.interpolate(pred_T, pred_S.shape[2:], mode='bilinear')
            loss = loss + F.mse_loss(self.norm(pred_S), self.norm(pred_T)) / 2
        return loss * self.loss_weight
