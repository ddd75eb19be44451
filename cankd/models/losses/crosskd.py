"""CrossKD's prediction-mimicking losses (Wang et al., "CrossKD: Cross-Head
Knowledge Distillation for Object Detection", CVPR 2024, arXiv 2306.11369):
the classification KD loss for sigmoid / quality-focal outputs and the
box-level KD loss on decoded boxes. Both take per-FPN-level lists (or one
tensor) and sum the levels, as the official per-level losses are summed."""
from typing import Optional, Sequence, Union

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from cankd.registry import MODELS

Levels = Union[torch.Tensor, Sequence[torch.Tensor]]
# mmdet's weight_reduce_loss divides by avg_factor + this.
_AVG_EPS = torch.finfo(torch.float32).eps


def as_levels(name: str, x: Optional[Levels], n: Optional[int] = None) -> Optional[list]:
    """A tensor or a sequence of tensors as a list (one per level)."""
    if x is None:
        return None
    levels = [x] if isinstance(x, torch.Tensor) else list(x)
    if n is not None and len(levels) != n:
        raise ValueError(f'{name}: {len(levels)} levels, expected {n} (one per FPN level)')
    return levels


def avg_factor_value(avg_factor, reduce: bool = False,
                     device=None) -> Optional[Union[float, torch.Tensor]]:
    """A number; a 0-d/1-element tensor as is; a longer tensor (e.g. FCOS's
    positive centerness targets, recorded from ``FCOSHead.centerness_target``)
    by its sum, at least 1e-6, as FCOS's ``pos_centerness_denorm``.

    With ``reduce`` the value (a float32 tensor on ``device``; a longer
    tensor's sum) is first replaced by its mean over the processes
    (``mmdet.utils.reduce_mean``), as the official CrossKD GFL / ATSS / FCOS code
    does with ``reduce_mean`` before dividing (FCOS: ``max(reduce_mean(sum),
    1e-6)``); without an initialised ``torch.distributed`` it is ignored (the
    value is exactly the one without it). ``None`` stays ``None`` (and no
    collective runs)."""
    if avg_factor is None:
        return None
    if reduce and dist.is_available() and dist.is_initialized():
        from mmdet.utils import reduce_mean
        summed = isinstance(avg_factor, torch.Tensor) and avg_factor.numel() != 1
        if isinstance(avg_factor, torch.Tensor):
            value = (avg_factor.detach().sum() if summed else avg_factor.detach().reshape(()))
            value = value.to(device=device if device is not None else value.device,
                             dtype=torch.float)
        else:
            value = torch.tensor(float(avg_factor), dtype=torch.float, device=device)
        value = reduce_mean(value)
        return value.clamp(min=1e-6) if summed else value
    if isinstance(avg_factor, torch.Tensor):
        avg_factor = avg_factor.detach()
        if avg_factor.numel() != 1:
            return avg_factor.sum().clamp(min=1e-6)
        return avg_factor.reshape(())
    return avg_factor


def rows(x: torch.Tensor, width: int) -> torch.Tensor:
    """N x (A*width) x H x W (a head's map) as (N*H*W*A) x width rows, in the
    order of the head's priors and targets; N x M x width tensors likewise."""
    if x.dim() == 4:
        x = x.permute(0, 2, 3, 1)
    return x.reshape(-1, width)


@MODELS.register_module()
class KDQualityFocalLoss(nn.Module):
    """CrossKD's classification KD loss: a quality-focal-style BCE towards the
    teacher's sigmoid scores, for sigmoid (focal / quality-focal) heads.

    ::

        t = sigmoid(z_T), s = sigmoid(z_S)
        l = BCE(s, t) * |s - t| ** beta
        loss = loss_weight * sum_levels sum(w * l) / avg_factor

    ``w`` is the per-prior ``label_weights`` of the student's targets (0
    for ignored priors), broadcast over the classes; without ``avg_factor``
    each level is averaged over its elements. CrossKD uses beta 1 and the
    number of positive priors (FCOS: the sum of their centerness targets).

    Args:
        beta: exponent of the modulating factor.
        loss_weight: weight of the loss.
        reduce_avg_factor: when True and ``torch.distributed`` is
            initialised, ``avg_factor`` is replaced by its mean over the
            processes (mmdet's ``reduce_mean``) before dividing, as the
            official CrossKD code does for GFL, ATSS and FCOS (not RetinaNet); with one
            process (or without ``torch.distributed``) it changes nothing.
            Every rank must then call the loss (a collective). Default
            False (this process's factor).

    Inputs: ``preds_S``/``preds_T`` per-level N x (A*C) x H x W logits (the
    student's cross-head and the teacher's); ``label_weights`` per-level
    N x (H*W*A) (e.g. ``get_targets``' output, recorded); ``avg_factor`` a
    number or tensor (see :func:`avg_factor_value`).
    """

    def __init__(self, beta: float = 1.0, loss_weight: float = 1.0,
                 reduce_avg_factor: bool = False) -> None:
        super().__init__()
        self.beta = beta
        self.loss_weight = loss_weight
        self.reduce_avg_factor = reduce_avg_factor

    def forward(self, preds_S: Levels, preds_T: Levels, label_weights: Optional[Levels] = None,
                avg_factor=None) -> torch.Tensor:
        preds_S = as_levels('KDQualityFocalLoss preds_S', preds_S)
        preds_T = as_levels('KDQualityFocalLoss preds_T', preds_T, len(preds_S))
        label_weights = as_levels('KDQualityFocalLoss label_weights', label_weights,
                                  len(preds_S))
        avg_factor = avg_factor_value(avg_factor, self.reduce_avg_factor, preds_S[0].device)
        loss = 0.
        for level, (s, t) in enumerate(zip(preds_S, preds_T)):
            if s.shape != t.shape:
                raise ValueError(f'KDQualityFocalLoss: level {level}: student {tuple(s.shape)} '
                                 f'and teacher {tuple(t.shape)} differ')
            s, t = rows(s, 1).reshape(-1), rows(t, 1).reshape(-1)
            target = t.detach().sigmoid()
            elem = F.binary_cross_entropy_with_logits(s, target, reduction='none')
            elem = elem * (s.sigmoid() - target).abs().pow(self.beta)
            if label_weights is not None:
                lw = label_weights[level].reshape(-1).to(elem.dtype)
                if elem.numel() % lw.numel():
                    raise ValueError(f'KDQualityFocalLoss: level {level}: {elem.numel()} scores '
                                     f'but {lw.numel()} label weights')
                elem = elem.reshape(lw.numel(), -1) * lw[:, None]
            if avg_factor is None:
                loss = loss + elem.mean()
            else:
                loss = loss + elem.sum() / (avg_factor + _AVG_EPS)
        return self.loss_weight * loss


def aligned_iou(pred: torch.Tensor, target: torch.Tensor, mode: str = 'iou',
                eps: float = 1e-6) -> torch.Tensor:
    """IoU (or GIoU) of each row pair of two K x 4 (x1, y1, x2, y2) tensors;
    union and enclosing area at least ``eps`` (mmdet's ``bbox_overlaps``)."""
    area_p = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    area_t = (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1])
    wh = (torch.min(pred[:, 2:], target[:, 2:]) - torch.max(pred[:, :2], target[:, :2]))
    inter = wh.clamp(min=0).prod(dim=1)
    union = (area_p + area_t - inter).clamp(min=eps)
    iou = inter / union
    if mode == 'iou':
        return iou
    enclose = (torch.max(pred[:, 2:], target[:, 2:])
               - torch.min(pred[:, :2], target[:, :2])).clamp(min=0).prod(dim=1).clamp(min=eps)
    return iou - (enclose - union) / enclose


@MODELS.register_module()
class CrossKDBoxLoss(nn.Module):
    """CrossKD's box-level KD loss: the cross-head boxes regress onto the
    teacher's, each prior weighted by the teacher's top class score.

    ::

        w_i = max_c sigmoid(z_T[i, c])   (0 where label_weights_i == 0)
        l_i = 1 - GIoU(B_S[i], B_T[i])   ('giou': RetinaNet, ATSS, GFL)
        l_i = -log IoU(B_S[i], B_T[i])   ('iou': FCOS)
        loss = loss_weight * sum_levels sum_i w_i l_i / D

    with ``D`` = ``avg_factor`` (``normalize='avg_factor'``: RetinaNet,
    ATSS, FCOS) or the sum of the weights over all levels
    (``normalize='weight_sum'``: GFL).

    Args:
        mode: ``'giou'`` or ``'iou'``.
        normalize: ``'avg_factor'`` or ``'weight_sum'``.
        loss_weight: weight of the loss.
        eps: the IoU's ``eps`` and the least weight sum.
        reduce_avg_factor: when True and ``torch.distributed`` is
            initialised, ``avg_factor`` is replaced by its mean over the
            processes (mmdet's ``reduce_mean``) before dividing, as the
            official CrossKD code does for ATSS and FCOS (not RetinaNet); with one
            process (or without ``torch.distributed``) it changes nothing.
            Every rank must then call the loss (a collective). Default
            False (this process's factor).
            Only with ``normalize='avg_factor'``: the official GFL code
            divides its box KD by this process's sum of weights (not
            reduced), so ``'weight_sum'`` refuses it.

    Inputs: ``boxes_S``/``boxes_T`` per-level N x M x 4 decoded boxes
    (``CrossKDDistill``'s recorded outputs, index 2), ``scores_T`` the
    teacher's per-level N x (A*C) x H x W logits, ``label_weights`` per-level
    N x M, ``avg_factor`` a number or tensor.
    """

    def __init__(self, mode: str = 'giou', normalize: str = 'avg_factor',
                 loss_weight: float = 1.0, eps: float = 1e-6,
                 reduce_avg_factor: bool = False) -> None:
        super().__init__()
        if mode not in ('giou', 'iou'):
            raise ValueError(f'CrossKDBoxLoss: mode must be "giou" or "iou", got {mode!r}')
        if normalize not in ('avg_factor', 'weight_sum'):
            raise ValueError('CrossKDBoxLoss: normalize must be "avg_factor" or "weight_sum", '
                             f'got {normalize!r}')
        if reduce_avg_factor and normalize != 'avg_factor':
            raise ValueError('CrossKDBoxLoss: reduce_avg_factor=True needs normalize='
                             '"avg_factor" (the weight sum stays this process\'s, as in the '
                             'official GFL code)')
        self.mode, self.normalize = mode, normalize
        self.loss_weight, self.eps = loss_weight, eps
        self.reduce_avg_factor = reduce_avg_factor

    def forward(self, boxes_S: Levels, boxes_T: Levels, scores_T: Levels,
                label_weights: Optional[Levels] = None, avg_factor=None) -> torch.Tensor:
        boxes_S = as_levels('CrossKDBoxLoss boxes_S', boxes_S)
        n = len(boxes_S)
        boxes_T = as_levels('CrossKDBoxLoss boxes_T', boxes_T, n)
        scores_T = as_levels('CrossKDBoxLoss scores_T', scores_T, n)
        label_weights = as_levels('CrossKDBoxLoss label_weights', label_weights, n)
        avg_factor = avg_factor_value(avg_factor, self.reduce_avg_factor, boxes_S[0].device)
        if self.normalize == 'avg_factor' and avg_factor is None:
            raise ValueError('CrossKDBoxLoss(normalize="avg_factor") needs avg_factor (e.g. '
                             'the number of positives from the student head\'s get_targets)')
        total, weight_sum = 0., 0.
        for level in range(n):
            bs, bt = rows(boxes_S[level], 4), rows(boxes_T[level], 4).detach()
            if bs.shape != bt.shape:
                raise ValueError(f'CrossKDBoxLoss: level {level}: student boxes '
                                 f'{tuple(bs.shape)} and teacher {tuple(bt.shape)} differ')
            score = scores_T[level].detach()
            score = score.permute(0, 2, 3, 1) if score.dim() == 4 else score
            w = score.reshape(bs.shape[0], -1).sigmoid().max(dim=1)[0]
            if label_weights is not None:
                w = w.masked_fill(label_weights[level].reshape(-1) == 0, 0)
            iou = aligned_iou(bs, bt, self.mode, self.eps)
            elem = 1 - iou if self.mode == 'giou' else -iou.clamp(min=self.eps).log()
            total = total + (w * elem).sum()
            weight_sum = weight_sum + w.sum()
        if self.normalize == 'weight_sum':
            return self.loss_weight * total / weight_sum.clamp(min=self.eps)
        return self.loss_weight * total / (avg_factor + _AVG_EPS)


@MODELS.register_module()
class CenternessKDLoss(nn.Module):
    """CrossKD's centerness KD (its ATSS recipe): the cross head's centerness
    logits towards the teacher's sigmoid centerness, at the positive priors.

    ::

        loss = loss_weight * sum_levels sum_{i positive}
               BCE(sigmoid(c_S,i), sigmoid(c_T,i)) / avg_factor

    Positives: ``0 <= labels < num_classes`` (``num_classes`` is the
    background label of the student's targets).

    Inputs: ``preds_S``/``preds_T`` per-level N x A x H x W centerness logits
    (``CrossKDDistill``'s recorded outputs, index 3); ``labels`` per-level
    N x (H*W*A) (e.g. ``ATSSHead.get_targets`` output 1); ``avg_factor`` a
    number or tensor (the number of positives).

    Args:
        num_classes: the student's classes (its background label).
        loss_weight: weight of the loss.
        reduce_avg_factor: when True and ``torch.distributed`` is
            initialised, ``avg_factor`` is replaced by its mean over the
            processes (mmdet's ``reduce_mean``) before dividing, as the
            official CrossKD code does for ATSS; with one
            process (or without ``torch.distributed``) it changes nothing.
            Every rank must then call the loss (a collective). Default
            False (this process's factor).
    """

    def __init__(self, num_classes: int, loss_weight: float = 1.0,
                 reduce_avg_factor: bool = False) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.loss_weight = loss_weight
        self.reduce_avg_factor = reduce_avg_factor

    def forward(self, preds_S: Levels, preds_T: Levels, labels: Levels,
                avg_factor=None) -> torch.Tensor:
        preds_S = as_levels('CenternessKDLoss preds_S', preds_S)
        n = len(preds_S)
        preds_T = as_levels('CenternessKDLoss preds_T', preds_T, n)
        labels = as_levels('CenternessKDLoss labels', labels, n)
        avg_factor = avg_factor_value(avg_factor, self.reduce_avg_factor, preds_S[0].device)
        total = 0.
        for level in range(n):
            s, t = rows(preds_S[level], 1).reshape(-1), rows(preds_T[level], 1).reshape(-1)
            lab = labels[level].reshape(-1)
            if not s.shape == t.shape == lab.shape:
                raise ValueError(f'CenternessKDLoss: level {level}: student {s.numel()}, teacher '
                                 f'{t.numel()} centerness values and {lab.numel()} labels')
            pos = (lab >= 0) & (lab < self.num_classes)
            elem = F.binary_cross_entropy_with_logits(
                s[pos], t.detach()[pos].sigmoid(), reduction='none')
            total = total + (elem.sum() if avg_factor is None
                             else elem.sum() / (avg_factor + _AVG_EPS))
        return self.loss_weight * total
