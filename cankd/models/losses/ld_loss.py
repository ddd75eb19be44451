"""Localization distillation (LD; Zheng et al., "Localization Distillation
for Dense Object Detection", CVPR 2022, arXiv 2102.12252) on the box-side
distributions of a GFL-style head, usable from a distiller."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from cankd.registry import MODELS
from .crosskd import Levels, as_levels


@MODELS.register_module()
class LocalizationDistillLoss(nn.Module):
    """LD: KL divergence between the teacher's and the student's distributions
    over the ``reg_max + 1`` discretised distances of each box side.

    ::

        p_T = softmax(z_T / T), p_S = softmax(z_S / T)       (per side)
        KL_s = T^2 * red_b p_T[b] (log p_T[b] - log p_S[b])   (red: mean or sum over bins)
        loss = loss_weight * sum_levels sum_locations w * sum_sides KL_s / 4 / D

    ``w`` is 1, or ``max_c sigmoid(scores)`` of ``scores`` (detached), times
    a mask: the positive locations when ``labels`` are given (label in
    0..C-1, C the classes of ``scores``), and 0 where ``label_weights`` is 0.
    ``D`` is 1 (``normalize='none'``) or the sum of ``w`` over all levels
    (``normalize='weight_sum'``).

    * mmdet's ``LDHead`` (LD GFL R-101 -> R-50, 41.0): ``T=10``, mean over
      bins, ``loss_weight=0.25``, ``scores`` the student's own cls scores,
      ``labels`` the student's targets (positives only), ``normalize='none'``.
    * CrossKD's GFL regression KD: ``T=1``, sum over bins, ``loss_weight=3``,
      ``scores`` the teacher's, ``label_weights`` from the student's targets,
      ``normalize='weight_sum'``.

    Args:
        reg_max: the head's ``reg_max`` (distributions have reg_max + 1 bins).
        T: temperature.
        bin_reduction: ``'mean'`` or ``'sum'`` over the bins.
        normalize: ``'none'`` or ``'weight_sum'``.
        loss_weight: weight of the loss.

    Inputs: ``preds_S``/``preds_T`` per-level N x 4(reg_max+1) x H x W
    distribution logits (a GFL head's ``bbox_preds``, recorded);
    ``scores`` per-level N x C x H x W logits; ``labels``/``label_weights``
    per-level N x (H*W) (``GFLHead.get_targets`` outputs 1 and 2).
    """

    def __init__(self, reg_max: int = 16, T: float = 10, bin_reduction: str = 'mean',
                 normalize: str = 'none', loss_weight: float = 0.25) -> None:
        super().__init__()
        if bin_reduction not in ('mean', 'sum'):
            raise ValueError(f'LocalizationDistillLoss: bin_reduction must be "mean" or "sum", '
                             f'got {bin_reduction!r}')
        if normalize not in ('none', 'weight_sum'):
            raise ValueError('LocalizationDistillLoss: normalize must be "none" or '
                             f'"weight_sum", got {normalize!r}')
        self.reg_max, self.T = reg_max, T
        self.bin_reduction, self.normalize = bin_reduction, normalize
        self.loss_weight = loss_weight

    def forward(self, preds_S: Levels, preds_T: Levels, scores: Optional[Levels] = None,
                labels: Optional[Levels] = None,
                label_weights: Optional[Levels] = None) -> torch.Tensor:
        preds_S = as_levels('LocalizationDistillLoss preds_S', preds_S)
        n = len(preds_S)
        preds_T = as_levels('LocalizationDistillLoss preds_T', preds_T, n)
        scores = as_levels('LocalizationDistillLoss scores', scores, n)
        labels = as_levels('LocalizationDistillLoss labels', labels, n)
        label_weights = as_levels('LocalizationDistillLoss label_weights', label_weights, n)
        if labels is not None and scores is None:
            raise ValueError('LocalizationDistillLoss: labels need scores (their channels are '
                             'the classes; label == classes is the background)')
        bins = self.reg_max + 1
        total, weight_sum = 0., 0.
        for level in range(n):
            s, t = preds_S[level], preds_T[level]
            if s.shape != t.shape or s.dim() != 4 or s.shape[1] != 4 * bins:
                raise ValueError(f'LocalizationDistillLoss(reg_max={self.reg_max}): level '
                                 f'{level}: student {tuple(s.shape)} and teacher '
                                 f'{tuple(t.shape)} must both be N x {4 * bins} x H x W')
            s = s.permute(0, 2, 3, 1).reshape(-1, bins)
            t = t.detach().permute(0, 2, 3, 1).reshape(-1, bins)
            p_t = F.softmax(t / self.T, dim=1)
            kl = F.kl_div(F.log_softmax(s / self.T, dim=1), p_t, reduction='none')
            kl = (kl.mean(dim=1) if self.bin_reduction == 'mean' else kl.sum(dim=1))
            kl = kl * self.T**2
            kl = kl.reshape(-1, 4).sum(dim=1) / 4  # per location
            if scores is not None:
                score = scores[level].detach()
                classes = score.shape[1]
                w = score.permute(0, 2, 3, 1).reshape(-1, classes).sigmoid().max(dim=1)[0]
            else:
                w = kl.new_ones(kl.shape)
            if labels is not None:
                lab = labels[level].reshape(-1)
                w = w * ((lab >= 0) & (lab < classes)).to(w.dtype)
            if label_weights is not None:
                w = w.masked_fill(label_weights[level].reshape(-1) == 0, 0)
            total = total + (w * kl).sum()
            weight_sum = weight_sum + w.sum()
        if self.normalize == 'weight_sum':
            total = total / weight_sum.clamp(min=1e-6)
        return self.loss_weight * total
