"""Tiny models and batches for tests and examples (as ``mmdet.testing``)."""
from .tiny_models import demo_det_batch, demo_seg_batch, tiny_retinanet, tiny_segmentor

__all__ = ['tiny_retinanet', 'tiny_segmentor', 'demo_det_batch', 'demo_seg_batch']
