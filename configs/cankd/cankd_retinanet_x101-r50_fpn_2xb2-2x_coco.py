# CanKD with a stronger teacher, RetinaNet X-101-64x4d (41.0) -> R-50 (37.4):
# published 41.0 box AP.
_base_ = './cankd_retinanet_r101-r50_fpn_2xb2-2x_coco.py'

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_x101_64x4d_fpn_1x_coco/retinanet_x101_64x4d_fpn_1x_coco_20200130-366f5af1.pth'  # noqa: E501
model = dict(
    teacher=dict(cfg_path='mmdet::retinanet/retinanet_x101-64x4d_fpn_1x_coco.py',
                 pretrained=False),
    teacher_ckpt=teacher_ckpt)
