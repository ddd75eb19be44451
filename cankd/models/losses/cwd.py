import torch
import torch.nn.functional as F
from torch import nn

from cankd.registry import MODELS


@MODELS.register_module()
class ChannelWiseDivergence(nn.Module):
    """Channel-wise distillation (CWD).

    `Channel-wise Knowledge Distillation for Dense Prediction
    <https://arxiv.org/abs/2011.13256>`_. Each channel's H x W map becomes a
    distribution over positions (softmax with temperature ``tau``); the loss is
    the KL divergence teacher -> student, summed over positions and channels,
    scaled by ``tau^2`` and divided by C * N (N = batch size), as mmrazor's
    ``ChannelWiseDivergence``::

        p_T = softmax(T[n, c] / tau),  log p_S = log_softmax(S[n, c] / tau)
        loss = loss_weight * tau^2 / (C * N) * sum_{n,c,p} p_T (log p_T - log p_S)

    Args:
        tau: Temperature. Defaults to 1.0.
        loss_weight: Weight of the loss. Defaults to 1.0.

    Shapes: ``preds_S`` and ``preds_T`` are both N x C x H x W (features or
    logits); the channels must correspond one to one.
    """

    def __init__(self, tau: float = 1.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        if tau <= 0:
            raise ValueError(f'ChannelWiseDivergence: tau must be > 0, got {tau}')
        self.tau = tau
        self.loss_weight = loss_weight

    def forward(self, preds_S: torch.Tensor, preds_T: torch.Tensor) -> torch.Tensor:
        if preds_S.dim() != 4 or preds_S.shape != preds_T.shape:
            raise ValueError(
                f'ChannelWiseDivergence: expects student and teacher maps of the same '
                f'N x C x H x W shape, got {tuple(preds_S.shape)} and {tuple(preds_T.shape)}; '
                f'map the student to the teacher with a connector (e.g. a '
                f'ConvModuleConnector for channels, resize for H x W)')
        N, C, H, W = preds_S.shape
        # The teacher is a fixed target: never back-propagate into it.
        logits_T = preds_T.detach().reshape(N * C, H * W) / self.tau
        logits_S = preds_S.reshape(N * C, H * W) / self.tau
        log_p_T = F.log_softmax(logits_T, dim=1)
        kl = (log_p_T.exp() * (log_p_T - F.log_softmax(logits_S, dim=1))).sum()
        return self.loss_weight * kl * self.tau**2 / (C * N)
