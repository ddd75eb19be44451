# CanKD with a stronger teacher of another family: Cascade Mask R-CNN
# X-101-64x4d 20e (45.6 box AP) -> Faster R-CNN R-50 (38.4): published 42.0 box
# AP. Both FPNs give 256-channel P2..P6; CanKD on P2..P5. Follows the official
# nlkdIN_fpn_cmrcnn_x101_frcnn_r50_2x_coco.py (tori-hotaru/CanKD@f951e3a).
_base_ = '../_base_/cankd_det_2xb2-2x_coco.py'

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/cascade_rcnn/cascade_mask_rcnn_x101_64x4d_fpn_20e_coco/cascade_mask_rcnn_x101_64x4d_fpn_20e_coco_20200512_161033-bdb5126a.pth'  # noqa: E501
model = dict(
    architecture=dict(cfg_path='mmdet::faster_rcnn/faster-rcnn_r50_fpn_2x_coco.py',
                      pretrained=False),
    teacher=dict(cfg_path='mmdet::cascade_rcnn/cascade-mask-rcnn_x101-64x4d_fpn_20e_coco.py',
                 pretrained=False),
    teacher_ckpt=teacher_ckpt)
