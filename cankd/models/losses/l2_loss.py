import torch
from torch import nn

from cankd.registry import MODELS


@MODELS.register_module()
class L2Loss(nn.Module):
    """FitNets-style feature imitation: squared L2 distance between features.

    `FitNets: Hints for Thin Deep Nets <https://arxiv.org/abs/1412.6550>`_.
    Arguments, defaults and numerics follow mmrazor's ``L2Loss``::

        s, t = flatten(S), flatten(T)                 # B x (C*H*W)
        if normalize: s, t = mult * s / ||s||_2, mult * t / ||t||_2   (per sample)
        loss = sum((s - t)^2)
        loss = sqrt(loss)            if dist
             = loss / numel(S)       elif div_element
             = loss / B              otherwise
        loss = loss_weight * loss

    Args:
        loss_weight: Weight of the loss. Defaults to 1.0.
        normalize: L2-normalise each sample's flattened feature first.
            Defaults to True.
        mult: Scale of the normalised features. Defaults to 1.0.
        div_element: Average over all elements instead of over the batch.
            Defaults to False.
        dist: Return the plain 2-norm distance (``torch.dist``); overrides
            ``div_element``. Defaults to False.

    Shapes: ``s_feature`` and ``t_feature`` are both B x C x H x W (or B x C);
    map a student with other channels through a connector first.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 normalize: bool = True,
                 mult: float = 1.0,
                 div_element: bool = False,
                 dist: bool = False) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.normalize = normalize
        self.mult = mult
        self.div_element = div_element
        self.dist = dist

    def forward(self, s_feature: torch.Tensor, t_feature: torch.Tensor) -> torch.Tensor:
        if s_feature.shape != t_feature.shape:
            raise ValueError(
                f'L2Loss: student feature {tuple(s_feature.shape)} and teacher feature '
                f'{tuple(t_feature.shape)} differ in shape; map the student to the teacher '
                f'with a connector (e.g. a ConvModuleConnector)')
        # The teacher is a fixed target: never back-propagate into it.
        t_feature = t_feature.detach()
        numel = s_feature.numel()
        if self.normalize:
            s_feature = self.normalize_feature(s_feature)
            t_feature = self.normalize_feature(t_feature)
        loss = (s_feature - t_feature).pow(2).sum()
        if self.dist:
            loss = loss.sqrt()
        elif self.div_element:
            loss = loss / numel
        else:
            loss = loss / s_feature.size(0)
        return self.loss_weight * loss

    def normalize_feature(self, feature: torch.Tensor) -> torch.Tensor:
        """B x ... -> B x (...), each row scaled to L2 norm ``mult``."""
        feature = feature.reshape(feature.size(0), -1)
        return feature / feature.norm(2, dim=1, keepdim=True) * self.mult
