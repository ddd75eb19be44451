"""Shared pytest fixtures: tiny toy datasets and CPU-sized mmdet/mmseg configs.

The data come from :func:`cankd.datasets.make_toy_coco` /
:func:`cankd.datasets.make_toy_cityscapes` (4 train + 4 val images, 64x64).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / 'tools'

# A RetinaNet small enough to train on CPU in about a second an iteration.
TINY_RETINANET_CFG = """
default_scope = 'mmdet'
data_root = {data_root!r}
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
        type='RetinaHead', num_classes=5, in_channels=32, stacked_convs=1, feat_channels=32,
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
metainfo = dict(classes=('rectangle', 'ellipse', 'triangle', 'cross', 'star'))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='CocoDataset', data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'),
                 filter_cfg=dict(filter_empty_gt=True), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CocoDataset', data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'),
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + '/annotations/instances_val.json',
                     metric='bbox')
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


# A 2-iteration FCN (ResNetV1c-18 at 1/4 width) on toy Cityscapes, 8 classes.
TINY_FCN_CFG = """
default_scope = 'mmseg'
data_root = {data_root!r}
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
                           seg_pad_val=255, size=(64, 64)),
    backbone=dict(type='ResNetV1c', depth=18, base_channels=16, stem_channels=16,
                  out_indices=(3, ), dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
                  norm_cfg=norm_cfg, contract_dilation=True, init_cfg=None),
    decode_head=dict(type='FCNHead', in_channels=128, in_index=0, channels=32, num_convs=1,
                     concat_input=False, dropout_ratio=0.1, num_classes=8, norm_cfg=norm_cfg,
                     align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                                      loss_weight=1.0)),
    train_cfg=dict(), test_cfg=dict(mode='whole'))
train_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True), dict(type='PackSegInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='cankd.ToyCityscapesDataset', data_root=data_root,
                 data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='cankd.ToyCityscapesDataset', data_root=data_root,
                 data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
default_hooks = dict(
    timer=dict(type='IterTimerHook'), logger=dict(type='LoggerHook', interval=1),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook', interval=1))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(by_epoch=False)
visualizer = dict(type='SegLocalVisualizer', vis_backends=[dict(type='LocalVisBackend')])
randomness = dict(seed=0)
log_level = 'INFO'
load_from = None
resume = False
"""


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory) -> dict:
    """Toy COCO (5 shape classes), 4 train + 4 val 64x64 images; make_toy_coco's paths."""
    from cankd.datasets import make_toy_coco
    return make_toy_coco(str(tmp_path_factory.mktemp('tiny_coco')), num_train=4, num_val=4,
                         img_size=(64, 64))


@pytest.fixture(scope='session')
def tiny_cityscapes(tmp_path_factory) -> dict:
    """Toy Cityscapes (8 classes), 4 train + 4 val 64x64 images; make_toy_cityscapes' paths."""
    from cankd.datasets import make_toy_cityscapes
    return make_toy_cityscapes(str(tmp_path_factory.mktemp('tiny_cityscapes')), num_train=4,
                               num_val=4, img_size=(64, 64))


@pytest.fixture(scope='session')
def tiny_retinanet_config(tiny_coco, tmp_path_factory) -> str:
    """Path of a ``.py`` config: RetinaNet-R18 (1/4 width, FPN 32 ch) on tiny_coco, 2 iters."""
    path = tmp_path_factory.mktemp('configs') / 'tiny_retinanet.py'
    path.write_text(TINY_RETINANET_CFG.format(data_root=tiny_coco['data_root']))
    return str(path)


@pytest.fixture(scope='session')
def tiny_fcn_config(tiny_cityscapes, tmp_path_factory) -> str:
    """Path of a ``.py`` config: FCN on ResNetV1c-18 (1/4 width) on tiny_cityscapes, 2 iters."""
    path = tmp_path_factory.mktemp('configs') / 'tiny_fcn.py'
    path.write_text(TINY_FCN_CFG.format(data_root=tiny_cityscapes['data_root']))
    return str(path)


@pytest.fixture(scope='session')
def run_tool(tmp_path_factory):
    """``run_tool('train.py', *args, env={})`` runs ``tools/<name>`` in a subprocess
    (``.sh`` with bash) and returns stdout+stderr; a non-zero exit fails the
    test with the output's tail. One thread per process: 2 cores shared."""
    cwd = tmp_path_factory.mktemp('cwd')  # ./work_dirs defaults land here

    def run(name: str, *args, env: dict = None, timeout: float = 900) -> str:
        script = str(TOOLS / name)
        cmd = ['bash', script] if name.endswith('.sh') else [sys.executable, script]
        full_env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
                        PYTHON=sys.executable, MPLBACKEND='Agg',
                        # a native abort then shows the Python stack in the failure
                        PYTHONFAULTHANDLER='1',
                        PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ['PATH'])
        full_env.update(env or {})
        proc = subprocess.run(cmd + [str(a) for a in args], cwd=cwd, env=full_env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)
        if proc.returncode != 0:
            pytest.fail(f'{name} exited with {proc.returncode}:\n{proc.stdout[-6000:]}')
        return proc.stdout

    return run


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """mmengine's current DefaultScope is process-wide: a test that builds a
    Runner leaves it at its config's scope (mmseg, mmdet), and every later
    ``cankd`` registry build would then resolve in that scope. Restore it."""
    from collections import OrderedDict

    from mmengine.registry import DefaultScope
    saved = OrderedDict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(saved)
