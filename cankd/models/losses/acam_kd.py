import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from cankd.registry import MODELS
from .utils import check_feature_pair


def dice_diversity(masks: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Mean Dice similarity over ordered pairs i != j of masks (N x M x L).

    ``2 <m_i, m_j> / (|m_i|^2 + |m_j|^2)``, averaged over samples and pairs
    (MasKD's ``dice_coeff``); 0 when M == 1. Minimising it spreads the masks.
    """
    num_masks = masks.size(1)
    if num_masks < 2:
        return masks.new_zeros(())
    inner = masks @ masks.transpose(1, 2)                      # N x M x M
    sq = inner.diagonal(dim1=1, dim2=2)                        # N x M
    dice = 2 * inner / (sq[:, :, None] + sq[:, None, :] + 2 * eps)
    off_diag = ~torch.eye(num_masks, dtype=torch.bool, device=masks.device)
    return dice[:, off_diag].mean()


@MODELS.register_module()
class ACAMKDLoss(nn.Module):
    """ACAM-KD: adaptive and cooperative attention masking.

    `ACAM-KD: Adaptive and Cooperative Attention Masking for Knowledge
    Distillation <https://arxiv.org/abs/2503.06307>`_ (Lan & Tian, ICCV 2025).
    On one feature level, with S' = f_align(S) (N x C x H x W, C = teacher
    channels, L = H W)::

        STCA-FF   Q = W_q T, K = W_k S', V = W_v S'     (1x1 convs, C_q = C // 2 for Q, K)
                  F = softmax(Q^T K / sqrt(C_q)) V^T      L x C, fused feature
        ASCM      v   = mean over positions of F          1 x C
                  M^c = sigmoid(m_c v)                    M x C, m_c in R^{M x 1}
                  M^s = sigmoid(m_s F^T)                  M x L, m_s in R^{M x C}
        D = (T - S')^2
        L_c = 1/M sum_m sum_{k,p} (M^c_mk)^2 D_kp / (L sum_k M^c_mk)
        L_s = 1/M sum_m sum_{k,p} (M^s_mp)^2 D_kp / (C sum_p M^s_mp)
        L_div = Dice(M^s) + Dice(M^c)                    mean pairwise Dice, i != j
        loss = loss_weight (L_c + L_s) + div_weight L_div  (mean over the batch)

    The formulas above (and alpha = lambda = 1; M = 6 masks for detection on
    the FPN levels, M = 19 for Cityscapes on the predicted segmentation maps)
    are those of third-party summaries of the paper (papernotes.org,
    emergentmind); of the paper's own text only the abstract could be read
    here, so none of them is checked against it. These choices are ours and
    may differ from the paper and the unreleased official code:

    - ``f_align``: 1x1 conv student -> teacher channels when they differ,
      identity otherwise; STCA-FF takes S' (so K, V and the loss share C).
    - W_q, W_k, W_v: 1x1 convs with bias, PyTorch default init; C_q = C // 2.
    - Softmax over the student (key) positions; no positional encoding, no
      sub-sampling. Computed with ``scaled_dot_product_attention`` (Q, K
      zero-padded to C channels with the scale kept at 1/sqrt(C_q), which
      leaves the scores unchanged but lets fused kernels run), so the
      L x L attention need not be stored.
    - Selection units m_c, m_s: parameters drawn from N(0, 0.01^2) (as
      MasKD's receptive tokens): masks start near 0.5, i.e. near plain MSE.
    - The mask enters squared (||M ⊙ (T - S')||^2, as the summaries write it
      and MasKD does), normalised per sample and mask by the mask's sum
      (emergentmind divides by it; papernotes.org's LaTeX, read literally,
      multiplies).
    - The Dice diversity loss is applied to both mask sets and averaged over
      ordered pairs and samples (MasKD's ``dice_coeff``), not the summaries'
      single ratio of sums (which is M - 1 for M identical masks).
    - Everything is trained end to end by the total loss: the student gets
      gradient through the imitation term and, unless
      ``student_grad_through_masks=False``, through the masks (K, V come
      from it); the teacher feature is detached; W_q is trained through the
      masks. The paper does not say whether the masks' path is cut.
    - One ACAMKDLoss per FPN level (no parameter sharing across levels).

    Args:
        student_channels: Channels of the student feature.
        teacher_channels: Channels of the teacher feature. Defaults to
            ``student_channels``.
        num_masks: M, number of masks of each kind. Defaults to 6.
        loss_weight: alpha, weight of L_c + L_s. Defaults to 1.0.
        div_weight: lambda, weight of the diversity loss. Defaults to 1.0.
        query_from: ``'teacher'`` (the paper) or ``'student'`` (its Table 9
            ablation): which side gives Q; the other gives K and V.
        spatial_mask: Use L_s (and its Dice term). Defaults to True.
        channel_mask: Use L_c (and its Dice term). Defaults to True.
        student_grad_through_masks: Let the masks' gradient reach the student.
            Defaults to True.
    """

    def __init__(self,
                 student_channels: int,
                 teacher_channels: Optional[int] = None,
                 num_masks: int = 6,
                 loss_weight: float = 1.0,
                 div_weight: float = 1.0,
                 query_from: str = 'teacher',
                 spatial_mask: bool = True,
                 channel_mask: bool = True,
                 student_grad_through_masks: bool = True) -> None:
        super().__init__()
        teacher_channels = student_channels if teacher_channels is None else teacher_channels
        if teacher_channels < 2:
            raise ValueError(f'ACAMKDLoss: teacher_channels must be >= 2, got {teacher_channels}')
        if num_masks < 1:
            raise ValueError(f'ACAMKDLoss: num_masks must be >= 1, got {num_masks}')
        if query_from not in ('teacher', 'student'):
            raise ValueError(f"ACAMKDLoss: query_from must be 'teacher' or 'student', "
                             f'got {query_from!r}')
        if not (spatial_mask or channel_mask):
            raise ValueError('ACAMKDLoss: enable spatial_mask, channel_mask or both')
        self.student_channels = student_channels
        self.teacher_channels = teacher_channels
        self.num_masks = num_masks
        self.loss_weight = loss_weight
        self.div_weight = div_weight
        self.query_from = query_from
        self.spatial_mask = spatial_mask
        self.channel_mask = channel_mask
        self.student_grad_through_masks = student_grad_through_masks

        C = teacher_channels
        self.qk_channels = C // 2
        self.align = (nn.Conv2d(student_channels, C, kernel_size=1)
                      if student_channels != C else None)
        self.query = nn.Conv2d(C, self.qk_channels, kernel_size=1)
        self.key = nn.Conv2d(C, self.qk_channels, kernel_size=1)
        self.value = nn.Conv2d(C, C, kernel_size=1)
        self.channel_units = nn.Parameter(torch.empty(num_masks, 1).normal_(0, 0.01))
        self.spatial_units = nn.Parameter(torch.empty(num_masks, C).normal_(0, 0.01))

    def fuse(self, query_src: torch.Tensor, kv_src: torch.Tensor) -> torch.Tensor:
        """STCA-FF: softmax(Q^T K / sqrt(C_q)) V^T, N x L x C."""
        N, C, H, W = kv_src.shape
        q = self.query(query_src).flatten(2).transpose(1, 2)  # N x L x C_q
        k = self.key(kv_src).flatten(2).transpose(1, 2)       # N x L x C_q
        # contiguous: the fused kernels want unit stride on the channel axis
        v = self.value(kv_src).flatten(2).transpose(1, 2).contiguous()  # N x L x C
        pad = C - self.qk_channels
        # Zero channels add nothing to Q K^T; equal head sizes and a head axis
        # let the fused (flash / memory-efficient) kernels run, which never
        # store the L x L matrix (about 1 GB per image at a P3 of 100 x 168).
        q, k = F.pad(q, (0, pad)), F.pad(k, (0, pad))
        fused = F.scaled_dot_product_attention(
            q[:, None], k[:, None], v[:, None], scale=1 / math.sqrt(self.qk_channels))
        return fused[:, 0]

    def forward(self, preds_S: torch.Tensor, preds_T: torch.Tensor) -> torch.Tensor:
        """Args: preds_S (N x C_s x H x W), preds_T (N x C_t x H x W) -> scalar loss."""
        check_feature_pair('ACAMKDLoss', preds_S, preds_T, self.student_channels,
                           self.teacher_channels)
        # The teacher is a fixed target: never back-propagate into it.
        preds_T = preds_T.detach()
        if self.align is not None:
            preds_S = self.align(preds_S)
        N, C, H, W = preds_T.shape

        student = preds_S if self.student_grad_through_masks else preds_S.detach()
        if self.query_from == 'teacher':
            fused = self.fuse(preds_T, student)
        else:
            fused = self.fuse(student, preds_T)                        # N x L x C

        sq_diff = (preds_T - preds_S).pow(2).flatten(2)                # N x C x L
        distill = preds_S.new_zeros(())
        diversity = preds_S.new_zeros(())
        if self.channel_mask:
            pooled = fused.mean(dim=1)                                 # N x C
            masks = torch.sigmoid(self.channel_units[None] * pooled[:, None])  # N x M x C
            num = (masks.pow(2) * sq_diff.sum(dim=2)[:, None]).sum(dim=2)      # N x M
            distill = distill + (num / (H * W * masks.sum(dim=2))).mean()
            diversity = diversity + dice_diversity(masks)
        if self.spatial_mask:
            masks = torch.sigmoid(fused @ self.spatial_units.t()).transpose(1, 2)  # N x M x L
            num = (masks.pow(2) * sq_diff.sum(dim=1)[:, None]).sum(dim=2)          # N x M
            distill = distill + (num / (C * masks.sum(dim=2))).mean()
            diversity = diversity + dice_diversity(masks)
        return self.loss_weight * distill + self.div_weight * diversity
