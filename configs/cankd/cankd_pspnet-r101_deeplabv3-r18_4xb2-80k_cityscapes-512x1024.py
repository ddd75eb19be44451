# CanKD across segmentor families: PSPNet R-101 teacher -> DeepLabV3 R-18
# student, loss_weight 20 as published for this pair.
_base_ = './cankd_deeplabv3_r101-r18_4xb2-80k_cityscapes-512x1024.py'

teacher_ckpt = 'https://download.openmmlab.com/mmsegmentation/v0.5/pspnet/pspnet_r101-d8_512x1024_80k_cityscapes/pspnet_r101-d8_512x1024_80k_cityscapes_20200606_112211-e1e1100f.pth'  # noqa: E501
model = dict(
    teacher=dict(
        cfg_path='mmseg::pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py'),
    teacher_ckpt=teacher_ckpt,
    distiller=dict(distill_losses=dict(loss_cankd=dict(loss_weight=20))))
