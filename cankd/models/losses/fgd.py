from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import constant_init, kaiming_init
from torch import nn

from cankd.registry import MODELS
from .utils import check_feature_pair


def _context_block(channels: int) -> nn.Sequential:
    """GcBlock transform: 1x1 conv C -> C/2, LayerNorm, ReLU, 1x1 conv -> C."""
    return nn.Sequential(
        nn.Conv2d(channels, channels // 2, kernel_size=1),
        nn.LayerNorm([channels // 2, 1, 1]),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels // 2, channels, kernel_size=1))


@MODELS.register_module()
class FGDLoss(nn.Module):
    """Focal and global distillation (FGD) for detectors.

    `Focal and Global Knowledge Distillation for Detectors
    <https://arxiv.org/abs/2111.11837>`_ (Yang et al., CVPR 2022). On one
    feature level (N x C x H x W, teacher T, student S after ``align``)::

        A_s(x) = H W softmax(mean_c |x| / temp)     spatial attention, N x H x W
        A_c(x) = C softmax(mean_hw |x| / temp)      channel attention, N x C
        M_fg   = max over gt boxes covering a position of 1 / (h_box w_box)
        M_bg   = [M_fg == 0] / sum [M_fg == 0]       (per image)
        w      = A_s(T) A_c(T)                      the teacher decides where to look
        L_fg   = sum(w M_fg (S - T)^2) / N,  L_bg = sum(w M_bg (S - T)^2) / N
        L_at   = (sum |A_c(S) - A_c(T)| + sum |A_s(S) - A_s(T)|) / N
        L_gl   = sum((S + GC_s(S) - T - GC_t(T))^2) / N    GcBlock context, one per side
        loss   = alpha_fgd L_fg + beta_fgd L_bg + gamma_fgd L_at + lambda_fgd L_gl

    Numerics and initialisation follow the official code (yzd-v/FGD
    ``FeatureLoss``) and mmrazor's ``FGDLoss`` (h_box, w_box count the feature
    cells of the box made inclusive with floor/ceil, as both do), except for
    where boxes land on the feature map:

    - boxes (x1y1x2y2, in the coordinates of the padded network input) are
      divided by the feature stride, ``max(batch_H / H, batch_W / W)`` from
      ``metainfo['batch_input_shape']``; the reference code divides by
      ``img_shape`` and multiplies by the feature size, which stretches boxes
      whenever the batch is padded beyond the image. The max gives the true
      stride of ceil-mode levels (e.g. RetinaNet P6/P7 on a 800 x 1216 batch:
      13 x 19 cells, stride 64);
    - the mask indexing is rows = y, columns = x (the official code swaps them;
      mmrazor fixed it).

    The ground truth comes through ``data_samples`` (mmdet ``DetDataSample``
    list, passed by ``ConfigurableDistiller`` because ``forward`` names it):
    ``gt_instances.bboxes`` (tensor or ``HorizontalBoxes``) and
    ``metainfo['batch_input_shape']``.

    Args:
        student_channels: Channels of the student feature. With a single
            number (or ``in_channels``) both sides have it.
        teacher_channels: Channels of the teacher feature; a 1x1 conv
            ``align`` maps the student to it when they differ.
            Defaults to ``student_channels``.
        temp: Temperature of the attentions. Defaults to 0.5.
        alpha_fgd: Weight of the foreground loss. Defaults to 0.001.
        beta_fgd: Weight of the background loss. Defaults to 0.0005.
        gamma_fgd: Weight of the attention loss. Defaults to 0.001.
        lambda_fgd: Weight of the global (relation) loss. Defaults to 0.000005.
        in_channels: mmrazor's name for equal student and teacher channels.
    """

    def __init__(self,
                 student_channels: Optional[int] = None,
                 teacher_channels: Optional[int] = None,
                 temp: float = 0.5,
                 alpha_fgd: float = 0.001,
                 beta_fgd: float = 0.0005,
                 gamma_fgd: float = 0.001,
                 lambda_fgd: float = 0.000005,
                 in_channels: Optional[int] = None) -> None:
        super().__init__()
        if in_channels is not None:
            if student_channels is not None or teacher_channels is not None:
                raise ValueError('FGDLoss: give either in_channels (mmrazor) or '
                                 'student_channels/teacher_channels (official FGD), not both')
            student_channels = teacher_channels = in_channels
        if student_channels is None:
            raise ValueError('FGDLoss: set in_channels, or student_channels '
                             '(and teacher_channels if they differ)')
        teacher_channels = student_channels if teacher_channels is None else teacher_channels
        if teacher_channels < 2:
            raise ValueError(f'FGDLoss: teacher_channels must be >= 2, got {teacher_channels}')
        if temp <= 0:
            raise ValueError(f'FGDLoss: temp must be > 0, got {temp}')
        self.student_channels = student_channels
        self.teacher_channels = teacher_channels
        self.temp = temp
        self.alpha_fgd = alpha_fgd
        self.beta_fgd = beta_fgd
        self.gamma_fgd = gamma_fgd
        self.lambda_fgd = lambda_fgd

        self.align = (nn.Conv2d(student_channels, teacher_channels, kernel_size=1)
                      if student_channels != teacher_channels else None)
        self.conv_mask_s = nn.Conv2d(teacher_channels, 1, kernel_size=1)
        self.conv_mask_t = nn.Conv2d(teacher_channels, 1, kernel_size=1)
        self.channel_add_conv_s = _context_block(teacher_channels)
        self.channel_add_conv_t = _context_block(teacher_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # As GCNet/FGD: context masks kaiming (fan_in), the transform's last
        # conv zero so that the block starts as the identity.
        kaiming_init(self.conv_mask_s, mode='fan_in')
        kaiming_init(self.conv_mask_t, mode='fan_in')
        constant_init(self.channel_add_conv_s[-1], val=0)
        constant_init(self.channel_add_conv_t[-1], val=0)

    # --- pieces -----------------------------------------------------------
    def get_attention(self, preds: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Spatial (N x H x W, sums to H*W) and channel (N x C, sums to C) attention."""
        N, C, H, W = preds.shape
        value = preds.abs()
        spatial = value.mean(dim=1).reshape(N, -1) / self.temp
        spatial = H * W * F.softmax(spatial, dim=1)
        channel = C * F.softmax(value.mean(dim=(2, 3)) / self.temp, dim=1)
        return spatial.reshape(N, H, W), channel

    def get_masks(self, data_samples: Sequence, feat_shape: torch.Size,
                  device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
        """Foreground (scaled by 1 / box area) and normalised background masks, N x H x W."""
        from mmdet.structures.bbox import get_box_tensor

        N, _, H, W = feat_shape
        if data_samples is None or len(data_samples) != N:
            got = 'None' if data_samples is None else f'{len(data_samples)} data samples'
            raise ValueError(f'FGDLoss needs the batch\'s {N} DetDataSample objects '
                             f'(data_samples), got {got}')
        rows = torch.arange(H, device=device, dtype=torch.float32)
        cols = torch.arange(W, device=device, dtype=torch.float32)
        mask_fg = torch.zeros(N, H, W, device=device)
        for i, sample in enumerate(data_samples):
            if 'batch_input_shape' not in sample.metainfo:
                raise ValueError('FGDLoss: data sample has no metainfo["batch_input_shape"] '
                                 "(mmdet's DetDataPreprocessor sets it); keys: "
                                 f'{sorted(sample.metainfo)}')
            batch_h, batch_w = sample.metainfo['batch_input_shape'][:2]
            stride = max(batch_h / H, batch_w / W)
            boxes = get_box_tensor(sample.gt_instances.bboxes).to(device=device,
                                                                  dtype=torch.float32)
            if boxes.numel() == 0:
                continue
            boxes = boxes.reshape(-1, 4) / stride
            x1, y1 = boxes[:, 0].floor(), boxes[:, 1].floor()
            x2, y2 = boxes[:, 2].ceil(), boxes[:, 3].ceil()
            # Inclusive cell ranges [floor, ceil], area counted before clipping (as FGD).
            area = 1.0 / ((y2 + 1 - y1) * (x2 + 1 - x1))
            in_rows = (rows >= y1[:, None]) & (rows <= y2[:, None])  # boxes x H
            in_cols = (cols >= x1[:, None]) & (cols <= x2[:, None])  # boxes x W
            per_box = (in_rows[:, :, None] & in_cols[:, None, :]) * area[:, None, None]
            mask_fg[i] = per_box.amax(dim=0)
        mask_bg = (mask_fg == 0).float()
        mask_bg = mask_bg / mask_bg.sum(dim=(1, 2), keepdim=True).clamp(min=1)
        return mask_fg, mask_bg

    def spatial_pool(self, x: torch.Tensor, conv_mask: nn.Module) -> torch.Tensor:
        """GcBlock context: softmax-weighted sum over positions, N x C x 1 x 1."""
        N, C, H, W = x.shape
        weights = F.softmax(conv_mask(x).reshape(N, 1, H * W), dim=2)  # N x 1 x HW
        context = torch.bmm(x.reshape(N, C, H * W), weights.transpose(1, 2))
        return context.reshape(N, C, 1, 1)

    def get_rela_loss(self, preds_S: torch.Tensor, preds_T: torch.Tensor) -> torch.Tensor:
        out_s = preds_S + self.channel_add_conv_s(self.spatial_pool(preds_S, self.conv_mask_s))
        out_t = preds_T + self.channel_add_conv_t(self.spatial_pool(preds_T, self.conv_mask_t))
        return (out_s - out_t).pow(2).sum() / preds_S.size(0)

    # --- forward ----------------------------------------------------------
    def forward(self, preds_S: torch.Tensor, preds_T: torch.Tensor,
                data_samples: Optional[List] = None) -> torch.Tensor:
        """Args: preds_S (N x C_s x H x W), preds_T (N x C_t x H x W), data_samples."""
        check_feature_pair('FGDLoss', preds_S, preds_T, self.student_channels,
                           self.teacher_channels)
        # The teacher is a fixed target: never back-propagate into it.
        preds_T = preds_T.detach()
        if self.align is not None:
            preds_S = self.align(preds_S)
        N = preds_S.size(0)

        spatial_t, channel_t = self.get_attention(preds_T)
        spatial_s, channel_s = self.get_attention(preds_S)
        mask_fg, mask_bg = self.get_masks(data_samples, preds_S.shape, preds_S.device)
        mask_fg, mask_bg = mask_fg.to(preds_S.dtype), mask_bg.to(preds_S.dtype)

        weighted = (preds_S - preds_T).pow(2) * spatial_t[:, None] * channel_t[:, :, None, None]
        fg_loss = (weighted * mask_fg[:, None]).sum() / N
        bg_loss = (weighted * mask_bg[:, None]).sum() / N
        mask_loss = ((channel_s - channel_t).abs().sum() + (spatial_s - spatial_t).abs().sum()) / N
        rela_loss = self.get_rela_loss(preds_S, preds_T)
        return (self.alpha_fgd * fg_loss + self.beta_fgd * bg_loss + self.gamma_fgd * mask_loss
                + self.lambda_fgd * rela_loss)
