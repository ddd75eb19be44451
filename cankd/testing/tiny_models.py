"""CPU-sized mmdet / mmseg model configs, no pretrained weights."""
from typing import List, Tuple

import torch

_MEAN = [123.675, 116.28, 103.53]
_STD = [58.395, 57.12, 57.375]


def tiny_retinanet(base_channels: int = 16, neck_channels: int = 32,
                   num_classes: int = 3) -> dict:
    """A RetinaNet with a narrow ResNet-18 (``base_channels`` wide), 3 FPN levels."""
    stage_channels = [base_channels * 2**i for i in range(4)]
    return dict(
        type='RetinaNet',
        _scope_='mmdet',
        data_preprocessor=dict(type='DetDataPreprocessor', mean=_MEAN, std=_STD,
                               bgr_to_rgb=True, pad_size_divisor=32),
        backbone=dict(type='ResNet', depth=18, base_channels=base_channels,
                      out_indices=(1, 2, 3), norm_cfg=dict(type='BN'), init_cfg=None),
        neck=dict(type='FPN', in_channels=stage_channels[1:], out_channels=neck_channels,
                  start_level=0, add_extra_convs='on_output', num_outs=3),
        bbox_head=dict(
            type='RetinaHead', num_classes=num_classes, in_channels=neck_channels,
            stacked_convs=1, feat_channels=neck_channels,
            anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                                  scales_per_octave=2, ratios=[0.5, 1.0, 2.0],
                                  strides=[8, 16, 32]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0] * 4,
                            target_stds=[1.0] * 4),
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                          loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4,
                                     min_pos_iou=0, ignore_iof_thr=-1),
                       sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1,
                       debug=False),
        test_cfg=dict(nms_pre=200, min_bbox_size=0, score_thr=0.05,
                      nms=dict(type='nms', iou_threshold=0.5), max_per_img=50))


def tiny_segmentor(base_channels: int = 16, num_classes: int = 4) -> dict:
    """An FCN-style EncoderDecoder on a narrow ResNetV1c-18 (output stride 8)."""
    return dict(
        type='EncoderDecoder',
        _scope_='mmseg',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=_MEAN, std=_STD,
                               bgr_to_rgb=True, pad_val=0, seg_pad_val=255,
                               size_divisor=8),
        backbone=dict(type='ResNetV1c', depth=18, base_channels=base_channels,
                      stem_channels=base_channels, out_indices=(0, 1, 2, 3),
                      dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
                      norm_cfg=dict(type='BN'), init_cfg=None),
        decode_head=dict(type='FCNHead', in_channels=base_channels * 8, in_index=3,
                         channels=base_channels * 2, num_convs=1, concat_input=False,
                         dropout_ratio=0.0, num_classes=num_classes,
                         norm_cfg=dict(type='BN'), align_corners=False,
                         loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))


def demo_det_batch(batch_size: int = 2, size: Tuple[int, int] = (64, 64),
                   num_classes: int = 3, seed: int = 0) -> dict:
    """A data batch as a dataloader yields it: uint8 images + DetDataSamples."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    g = torch.Generator().manual_seed(seed)
    h, w = size
    inputs: List[torch.Tensor] = []
    samples = []
    for _ in range(batch_size):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8))
        xy = torch.rand(2, 2, generator=g) * torch.tensor([w / 2, h / 2])
        wh = 8 + torch.rand(2, 2, generator=g) * torch.tensor([w / 3, h / 3])
        sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                             pad_shape=(h, w), scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(
            bboxes=torch.cat([xy, xy + wh], dim=1),
            labels=torch.randint(0, num_classes, (2,), generator=g))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def demo_seg_batch(batch_size: int = 2, size: Tuple[int, int] = (64, 64),
                   num_classes: int = 4, seed: int = 0) -> dict:
    """A segmentation data batch: uint8 images + SegDataSamples with gt maps."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)
    h, w = size
    inputs, samples = [], []
    for _ in range(batch_size):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8))
        sample = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                             pad_shape=(h, w)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, num_classes, (1, h, w), generator=g))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
