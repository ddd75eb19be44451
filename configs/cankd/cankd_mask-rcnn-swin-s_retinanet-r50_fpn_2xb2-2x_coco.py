# CanKD across families and backbones: Mask R-CNN Swin-S 3x (48.2 box AP) ->
# RetinaNet R-50 (37.4), with the official alignment loss NLKD_IN_align_Loss.
# As in the official nlkdIN_dagger_fpn_mask-rcnn_swin_retina_r50_2x_coco.py
# (tori-hotaru/CanKD@f951e3a), level i of each FPN is paired with level i:
# the Swin teacher's FPN starts at P2 (strides 4..64), RetinaNet's at P3
# (8..128), so the student's level is one stride coarser and the align loss
# resizes it (bilinear) to the teacher's size.
#
# Unlike the official file (a "dagger" one), the student's neck does not
# start from the teacher's: the two FPNs share no layout (lateral convs read
# 96..768 Swin channels there, 512..2048 ResNet channels here; RetinaNet's
# two extra levels are convs, Mask R-CNN's one is a max-pool), so only the
# teacher's P2..P4 output convs would load, into the student's P3..P5 ones.
# The official README publishes no number for this pair.
_base_ = '../_base_/cankd_det_2xb2-2x_coco.py'

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/swin/mask_rcnn_swin-s-p4-w7_fpn_fp16_ms-crop-3x_coco/mask_rcnn_swin-s-p4-w7_fpn_fp16_ms-crop-3x_coco_20210903_104808-b92c91f1.pth'  # noqa: E501
model = dict(
    architecture=dict(
        cfg_path='mmdet::retinanet/retinanet_r50_fpn_2x_coco.py', pretrained=False),
    teacher=dict(cfg_path='mmdet::swin/mask-rcnn_swin-s-p4-w7_fpn_amp-ms-crop-3x_coco.py',
                 pretrained=False),
    teacher_ckpt=teacher_ckpt,
    distiller=dict(distill_losses={
        f'loss_cankd_fpn{i}': dict(_delete_=True, type='NLKD_IN_align_Loss', in_channels=256,
                                   dimension=2, loss_weight=10)
        for i in range(4)
    }))
