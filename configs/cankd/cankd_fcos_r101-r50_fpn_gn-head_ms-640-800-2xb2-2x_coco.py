# CanKD, FCOS R-101 (40.8) -> R-50 (38.5), caffe-style backbones, GN head,
# multi-scale 640-800 training as the teacher's and student's own configs:
# published 42.4 box AP.
_base_ = '../_base_/cankd_det_2xb2-2x_coco.py'

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/fcos/fcos_r101_caffe_fpn_gn-head_mstrain_640-800_2x_coco/fcos_r101_caffe_fpn_gn-head_mstrain_640-800_2x_coco-511424d6.pth'  # noqa: E501
model = dict(
    architecture=dict(
        cfg_path='mmdet::fcos/fcos_r50-caffe_fpn_gn-head_ms-640-800-2x_coco.py', pretrained=False),
    teacher=dict(
        cfg_path='mmdet::fcos/fcos_r101-caffe_fpn_gn-head_ms-640-800-2x_coco.py', pretrained=False),
    teacher_ckpt=teacher_ckpt)
# FCOS is trained with multi-scale 640-800 inputs (the students' own pipeline).
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomChoiceResize', scales=[(1333, 640), (1333, 800)], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]))
