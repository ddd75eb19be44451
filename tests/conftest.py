"""Shared pytest fixtures: tiny on-disk datasets written into tmp dirs."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

TOY_CLASSES = ('red', 'blue')
_COLORS_BGR = {'red': (0, 0, 255), 'blue': (255, 0, 0)}


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'slow: takes more than ~20 s (deselect with -m "not slow")')


def write_tiny_coco(root: Path, num_images: int = 4, size: int = 64, seed: int = 0) -> dict:
    """Write ``num_images`` PNGs with 1-2 filled rectangles each, plus COCO json.

    Layout: ``root/images/{i}.png`` and ``root/annotations.json`` (one file
    serves as train, val and test annotation). Categories: 1 'red', 2 'blue'.
    """
    rng = np.random.default_rng(seed)
    (root / 'images').mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(num_images):
        img = np.full((size, size, 3), 40, np.uint8)
        for j in range(1 + i % 2):
            w, h = (int(v) for v in rng.integers(size // 4, size // 2, 2))
            x, y = (int(v) for v in rng.integers(0, size - max(w, h), 2))
            name = TOY_CLASSES[(i + j) % 2]
            img[y:y + h, x:x + w] = _COLORS_BGR[name]
            annotations.append(dict(
                id=len(annotations) + 1, image_id=i + 1, category_id=TOY_CLASSES.index(name) + 1,
                bbox=[x, y, w, h], area=w * h, iscrowd=0, segmentation=[]))
        cv2.imwrite(str(root / 'images' / f'{i}.png'), img)
        images.append(dict(id=i + 1, file_name=f'{i}.png', width=size, height=size))
    coco = dict(images=images, annotations=annotations,
                categories=[dict(id=k + 1, name=n) for k, n in enumerate(TOY_CLASSES)])
    (root / 'annotations.json').write_text(json.dumps(coco))
    return dict(root=str(root), ann_file='annotations.json', img_prefix='images/',
                classes=TOY_CLASSES)


def write_tiny_seg(root: Path, num_images: int = 4, size: int = 64, seed: int = 0) -> dict:
    """Write ``root/img/{i}.png`` and label maps ``root/ann/{i}.png`` (0 background, 1 box)."""
    rng = np.random.default_rng(seed)
    (root / 'img').mkdir(parents=True, exist_ok=True)
    (root / 'ann').mkdir(parents=True, exist_ok=True)
    for i in range(num_images):
        img = np.full((size, size, 3), 40, np.uint8)
        label = np.zeros((size, size), np.uint8)
        x, y = (int(v) for v in rng.integers(0, size // 2, 2))
        img[y:y + size // 2, x:x + size // 2] = (0, 200, 0)
        label[y:y + size // 2, x:x + size // 2] = 1
        cv2.imwrite(str(root / 'img' / f'{i}.png'), img)
        cv2.imwrite(str(root / 'ann' / f'{i}.png'), label)
    return dict(root=str(root), img_dir='img', ann_dir='ann', classes=('background', 'box'))


# A RetinaNet small enough to train on CPU in about a second an iteration.
TINY_RETINANET_CFG = """
default_scope = 'mmdet'
data_root = {root!r}
ann_file = {ann_file!r}
classes = {classes!r}
model = dict(
    type='RetinaNet',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(type='ResNet', depth=18, base_channels=16, out_indices=(1, 2, 3),
                  frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=False, style='pytorch', init_cfg=None),
    neck=dict(type='FPN', in_channels=[32, 64, 128], out_channels=32, start_level=0,
              num_outs=3),
    bbox_head=dict(
        type='RetinaHead', num_classes=2, in_channels=32, stacked_convs=1, feat_channels=32,
        anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                              scales_per_octave=2, ratios=[0.5, 1.0, 2.0],
                              strides=[8, 16, 32]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                        target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                      loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0,
                      ignore_iof_thr=-1),
        sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1, debug=False),
    test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.0,
                  nms=dict(type='nms', iou_threshold=0.5), max_per_img=20))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackDetInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))]
dataset = dict(type='CocoDataset', data_root=data_root, ann_file=ann_file,
               metainfo=dict(classes=classes), data_prefix=dict(img={img_prefix!r}))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(**dataset, filter_cfg=dict(filter_empty_gt=True), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**dataset, test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + '/' + ann_file, metric='bbox')
test_evaluator = val_evaluator
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
default_hooks = dict(
    timer=dict(type='IterTimerHook'), logger=dict(type='LoggerHook', interval=1),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(type='LogProcessor', window_size=1, by_epoch=False)
visualizer = dict(type='DetLocalVisualizer', vis_backends=[dict(type='LocalVisBackend')])
auto_scale_lr = dict(enable=False, base_batch_size=2)
randomness = dict(seed=0)
log_level = 'INFO'
load_from = None
resume = False
"""


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory) -> dict:
    """4 images, 64x64, COCO boxes of 2 classes; dict with root/ann_file/img_prefix."""
    return write_tiny_coco(tmp_path_factory.mktemp('tiny_coco'))


@pytest.fixture(scope='session')
def tiny_seg(tmp_path_factory) -> dict:
    """4 images, 64x64, 2-class label maps; dict with root/img_dir/ann_dir/classes."""
    return write_tiny_seg(tmp_path_factory.mktemp('tiny_seg'))


@pytest.fixture(scope='session')
def tiny_retinanet_config(tiny_coco, tmp_path_factory) -> str:
    """Path of a ``.py`` config: RetinaNet-R18 (FPN 32 ch) on :func:`tiny_coco`, 2 iters."""
    path = tmp_path_factory.mktemp('configs') / 'tiny_retinanet.py'
    path.write_text(TINY_RETINANET_CFG.format(**tiny_coco))
    return str(path)
