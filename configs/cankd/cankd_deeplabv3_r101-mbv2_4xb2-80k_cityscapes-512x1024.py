# CanKD, DeepLabV3 R-101 (80.31 published / 80.20 model zoo) -> DeepLabV3
# MobileNetV2 (73.84): published 75.62 mIoU. The student's last stage is
# layer7 (320 channels), lifted to 2048 by a 1x1 conv + BN.
_base_ = '../_base_/cankd_seg_4xb2-80k_cityscapes-512x1024.py'

teacher_ckpt = 'https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3/deeplabv3_r101-d8_512x1024_80k_cityscapes/deeplabv3_r101-d8_512x1024_80k_cityscapes_20200606_113503-9e428899.pth'  # noqa: E501
model = dict(
    architecture=dict(
        cfg_path='mmseg::mobilenet_v2/mobilenet-v2-d8_deeplabv3_4xb2-80k_cityscapes-512x1024.py',
        pretrained=False),
    teacher=dict(
        cfg_path='mmseg::deeplabv3/deeplabv3_r101-d8_4xb2-80k_cityscapes-512x1024.py',
        pretrained=False),
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        student_recorders=dict(bb=dict(source='backbone.layer7')),
        connectors=dict(lift=dict(type='ConvModuleConnector', in_channel=320, out_channel=2048,
                                  norm_cfg=dict(type='BN'), act_cfg=None)),
        loss_forward_mappings=dict(loss_cankd=dict(s_feature=dict(connector='lift')))))
