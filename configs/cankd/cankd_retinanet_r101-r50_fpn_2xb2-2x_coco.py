# CanKD, RetinaNet R-101 (38.9) -> R-50 (37.4): published 39.7 box AP.
_base_ = '../_base_/cankd_det_2xb2-2x_coco.py'

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_r101_fpn_2x_coco/retinanet_r101_fpn_2x_coco_20200131-5560aee8.pth'  # noqa: E501
model = dict(
    architecture=dict(cfg_path='mmdet::retinanet/retinanet_r50_fpn_2x_coco.py', pretrained=False),
    teacher=dict(cfg_path='mmdet::retinanet/retinanet_r101_fpn_2x_coco.py', pretrained=False),
    teacher_ckpt=teacher_ckpt)
