"""Feature maps drawn as heat maps (PNG), shared by
``tools/visualizations/feature_visualization.py`` (teacher/student rows per
distill loss) and :class:`cankd.engine.hooks.RazorVisualizationHook`
(recorded features during a run).

matplotlib is imported when drawing (Agg backend: no display needed); a PNG
is written to a temporary file in its folder and renamed, so a reader never
sees half a file.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch

__all__ = ['REDUCTIONS', 'channel_heat', 'crop_padding', 'norm_featmap', 'save_figure',
           'draw_rows', 'draw_featmap']

# cankd's names (mean, l2) and mmrazor/mmengine's (squeeze_mean, select_max,
# pixel_wise_max); None in draw_featmap: the top-k channels, one panel each.
REDUCTIONS = ('mean', 'l2', 'squeeze_mean', 'select_max', 'pixel_wise_max')


def channel_heat(x: torch.Tensor, reduce: str = 'mean') -> torch.Tensor:
    """C x H x W -> H x W: channel mean, L2 norm, max, or the channel with
    the largest mean activation (``select_max``)."""
    if x.dim() != 3:
        raise ValueError(f'expected a C x H x W feature map, got shape {tuple(x.shape)}')
    if reduce in ('mean', 'squeeze_mean'):
        return x.mean(0)
    if reduce == 'l2':
        return x.norm(dim=0)
    if reduce == 'pixel_wise_max':
        return x.max(0).values
    if reduce == 'select_max':
        return x[x.mean(dim=(1, 2)).argmax()]
    raise ValueError(f'channel reduction {reduce!r} is not one of {REDUCTIONS} (or None for '
                     'the top-k channels)')


def crop_padding(heat: torch.Tensor, valid_hw: Sequence[int],
                 padded_hw: Sequence[int]) -> torch.Tensor:
    """Drop the padding the data preprocessor added (bottom/right)."""
    h = max(1, math.ceil(heat.shape[-2] * valid_hw[0] / padded_hw[0]))
    w = max(1, math.ceil(heat.shape[-1] * valid_hw[1] / padded_hw[1]))
    return heat[..., :h, :w]


def norm_featmap(feat: torch.Tensor) -> torch.Tensor:
    """Standardise each channel of an N x C x H x W map over N, H, W
    (mmrazor's ``use_norm``)."""
    if feat.dim() != 4:
        raise ValueError(f'expected N x C x H x W, got shape {tuple(feat.shape)}')
    n, c, h, w = feat.shape
    flat = feat.permute(1, 0, 2, 3).reshape(c, -1)
    flat = (flat - flat.mean(-1, keepdim=True)) / (flat.std(-1, keepdim=True) + 1e-6)
    return flat.reshape(c, n, h, w).permute(1, 0, 2, 3)


def save_figure(fig, out: str, dpi: int = 100) -> None:
    """Write ``fig`` to ``out`` (PNG) atomically and close it
    (:func:`cankd.utils.io.save_png` at this module's dpi)."""
    from .io import save_png
    save_png(fig, out, dpi)


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def draw_rows(rows: List[Dict], image_rgb, out: str, reduce: str, valid_hw,
              padded_hw) -> None:
    """The input image, then one row of heat maps per entry of ``rows``
    (``maps``, ``titles``, ``name``, ``loss``): teacher, student, difference."""
    plt = _pyplot()
    n = len(rows)
    fig, axes = plt.subplots(n + 1, 3, figsize=(12, 3.3 * (n + 1)), squeeze=False)
    axes[0][0].imshow(image_rgb)
    axes[0][0].set_title('input')
    for ax in axes[0]:
        ax.axis('off')
    axes[0][1].text(0, 0.5, f'channel reduction: {reduce}\nrows: loss_forward_mappings',
                    fontsize=10, va='center')
    for i, row in enumerate(rows, start=1):
        loss = 'n/a' if row['loss'] is None else f'{row["loss"]:.4g}'
        for j, (heat, title) in enumerate(zip(row['maps'], row['titles'])):
            ax = axes[i][j]
            heat = crop_padding(heat, valid_hw, padded_hw).cpu().numpy()
            im = ax.imshow(heat, cmap='magma' if j == 2 else 'viridis')
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
            prefix = f'{row["name"]} (loss {loss})\n' if j == 0 else ''
            ax.set_title(prefix + title, fontsize=9)
            ax.axis('off')
    fig.tight_layout()
    save_figure(fig, out)


def draw_featmap(feat: torch.Tensor,
                 out: str,
                 title: str = '',
                 image_rgb=None,
                 channel_reduction: Optional[str] = 'pixel_wise_max',
                 topk: int = 20,
                 arrangement: Tuple[int, int] = (4, 5),
                 resize_shape: Optional[Tuple[int, int]] = None,
                 alpha: float = 0.5,
                 valid_hw: Optional[Sequence[int]] = None,
                 padded_hw: Optional[Sequence[int]] = None) -> None:
    """One C x H x W feature map as a PNG heat map (mmrazor's
    ``visualization_cfg`` arguments): reduced over channels, or, with
    ``channel_reduction=None``, its ``topk`` most active channels in an
    ``arrangement`` (rows, cols) grid. Over ``image_rgb`` (H x W x 3) with
    opacity ``alpha`` when given; ``resize_shape`` (H, W) resizes the map;
    ``valid_hw``/``padded_hw`` crop the preprocessor's padding first."""
    feat = feat.detach().float().cpu()
    if feat.dim() == 4:
        feat = feat[0]
    if feat.dim() != 3:
        raise ValueError(f'{title or out}: expected a C x H x W (or N x C x H x W) feature '
                         f'map, got shape {tuple(feat.shape)}')
    if valid_hw is not None and padded_hw is not None:
        feat = crop_padding(feat, valid_hw, padded_hw)
    if resize_shape is not None:
        feat = torch.nn.functional.interpolate(feat[None], size=tuple(resize_shape),
                                               mode='bilinear', align_corners=False)[0]
    if channel_reduction is None:
        order = feat.mean(dim=(1, 2)).argsort(descending=True)[:topk]
        maps = [(feat[c], f'channel {int(c)}') for c in order]
        rows, cols = arrangement
        if rows * cols < len(maps):
            raise ValueError(f'arrangement {tuple(arrangement)} has {rows * cols} panels, '
                             f'fewer than topk={topk}')
    else:
        maps = [(channel_heat(feat, channel_reduction), channel_reduction)]
        rows, cols = 1, 1
    plt = _pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis('off')
        if k >= len(maps):
            continue
        heat, label = maps[k]
        heat = heat.numpy()
        if image_rgb is not None:
            h, w = image_rgb.shape[:2]
            ax.imshow(image_rgb)
            im = ax.imshow(heat, cmap='jet', alpha=alpha, extent=(0, w, h, 0))
        else:
            im = ax.imshow(heat, cmap='viridis')
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        ax.set_title(f'{title}\n{label}, {"x".join(map(str, feat.shape))}' if k == 0
                     else label, fontsize=9)
    fig.tight_layout()
    save_figure(fig, out)
