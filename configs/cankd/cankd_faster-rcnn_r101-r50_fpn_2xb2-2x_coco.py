# CanKD, Faster R-CNN R-101 (39.8) -> R-50 (38.4): published 40.1 box AP.
_base_ = '../_base_/cankd_det_2xb2-2x_coco.py'

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/faster_rcnn_r101_fpn_2x_coco/faster_rcnn_r101_fpn_2x_coco_bbox_mAP-0.398_20200504_210455-1d2dac9c.pth'  # noqa: E501
model = dict(
    architecture=dict(cfg_path='mmdet::faster_rcnn/faster-rcnn_r50_fpn_2x_coco.py',
                      pretrained=False),
    teacher=dict(cfg_path='mmdet::faster_rcnn/faster-rcnn_r101_fpn_2x_coco.py',
                 pretrained=False),
    teacher_ckpt=teacher_ckpt)
