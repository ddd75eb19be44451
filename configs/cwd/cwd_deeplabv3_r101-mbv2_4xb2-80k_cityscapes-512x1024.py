# CWD (channel-wise distillation, arXiv 2011.13256) on the segmentation
# logits, DeepLabV3 R-101 -> DeepLabV3 MobileNetV2 (73.84), Cityscapes 80k.
# Same pair, data and schedule as
# ../cankd/cankd_deeplabv3_r101-mbv2_4xb2-80k_cityscapes-512x1024.py.
# Settings: mmrazor
# configs/distill/mmseg/cwd/cwd_logits_pspnet_r101_d8_pspnet_r18_d8_512x1024_cityscapes_80k.py
# (75.54 mIoU for PSPNet R-101 -> R-18): ChannelWiseDivergence tau 1,
# loss_weight 5 on decode_head.conv_seg (19 x H/8 x W/8 on both sides).
# (The official MGD segmentation code, yzd-v/MGD, uses the same logit loss with
# tau 4 and weight 3.)
_base_ = '../cankd/cankd_deeplabv3_r101-mbv2_4xb2-80k_cityscapes-512x1024.py'

model = dict(
    distiller=dict(
        _delete_=True,
        type='ConfigurableDistiller',
        student_recorders=dict(
            logits=dict(type='ModuleOutputs', source='decode_head.conv_seg')),
        teacher_recorders=dict(
            logits=dict(type='ModuleOutputs', source='decode_head.conv_seg')),
        distill_losses=dict(
            loss_cwd=dict(type='ChannelWiseDivergence', tau=1, loss_weight=5)),
        loss_forward_mappings=dict(
            loss_cwd=dict(
                preds_S=dict(from_student=True, recorder='logits'),
                preds_T=dict(from_student=False, recorder='logits')))))
