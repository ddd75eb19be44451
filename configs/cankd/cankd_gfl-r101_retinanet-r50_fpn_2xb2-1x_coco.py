# CanKD across detector families: GFL R-101 ms-2x (44.7) -> RetinaNet R-50
# (36.5 at 1x), COCO 1x. Both FPNs give 256-channel P3..P7 (GFL's extra levels
# from the FPN outputs, RetinaNet's from C5: same strides), so CanKD pairs
# level i with level i on P3..P6. Follows the official
# nlkdIN_fpn_gfl-r101_retina-r50_1x_coco.py (tori-hotaru/CanKD@f951e3a); the
# official README publishes no number for this pair.
_base_ = '../_base_/cankd_det_2xb2-2x_coco.py'

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/gfl/gfl_r101_fpn_mstrain_2x_coco/gfl_r101_fpn_mstrain_2x_coco_20200629_200126-dd12f847.pth'  # noqa: E501
model = dict(
    architecture=dict(cfg_path='mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
                      pretrained=False),
    teacher=dict(cfg_path='mmdet::gfl/gfl_r101_fpn_ms-2x_coco.py', pretrained=False),
    teacher_ckpt=teacher_ckpt)

# 1x schedule (mmdet's schedule_1x), as the official config.
train_cfg = dict(max_epochs=12)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1)
]
