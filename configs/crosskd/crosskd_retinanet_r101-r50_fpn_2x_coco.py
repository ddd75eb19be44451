# CrossKD (Cross-Head KD, arXiv 2306.11369, CVPR 2024), RetinaNet R-101 2x
# (38.9) -> RetinaNet R-50 2x (37.4), COCO 2x: published 39.7 box AP (CrossKD
# README, jbwang1997/CrossKD; not reproduced here).
# Settings: the official configs/crosskd/crosskd_r50_retinanet_r101_fpn_2x_coco.py:
# reused_teacher_head_idx=3 of 4; the losses in
# ../_base_/distillers/crosskd_retinanet.py. 8 GPUs x 2 images, SGD lr 0.01
# (RetinaNet's), mmdet's 2x schedule and COCO pipeline.
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_2x_coco.py', '../_base_/distillers/crosskd_retinanet.py'
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_r101_fpn_2x_coco/retinanet_r101_fpn_2x_coco_20200131-5560aee8.pth'  # noqa: E501
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='CrossKDDistill',
    architecture=dict(cfg_path='mmdet::retinanet/retinanet_r50_fpn_2x_coco.py', pretrained=False),
    teacher=dict(cfg_path='mmdet::retinanet/retinanet_r101_fpn_2x_coco.py', pretrained=False),
    teacher_ckpt=teacher_ckpt,
    reused_teacher_head_idx=3,
    distiller={{_base_.crosskd_retinanet_distiller}})

train_dataloader = dict(batch_size=2)
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
