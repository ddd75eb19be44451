# CanKD across detector families: FCOS X-101-64x4d teacher (42.6 model zoo, 42.7 in the CanKD README) -> RetinaNet
# R-50 student (37.4). Both necks give 256-channel P3..P7, so CanKD applies
# level by level; only the student's detection losses differ from the teacher's.
_base_ = './cankd_retinanet_r101-r50_fpn_2xb2-2x_coco.py'

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/fcos/fcos_x101_64x4d_fpn_gn-head_mstrain_640-800_2x_coco/fcos_x101_64x4d_fpn_gn-head_mstrain_640-800_2x_coco-ede514a8.pth'  # noqa: E501
model = dict(
    teacher=dict(cfg_path='mmdet::fcos/fcos_x101-64x4d_fpn_gn-head_ms-640-800-2x_coco.py',
                 pretrained=False),
    teacher_ckpt=teacher_ckpt)
