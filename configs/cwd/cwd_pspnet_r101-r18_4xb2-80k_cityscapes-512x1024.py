# CWD (channel-wise distillation, arXiv 2011.13256) on the segmentation
# logits, PSPNet R-101 (79.76) -> PSPNet R-18 (74.87), Cityscapes 80k:
# mmrazor publishes 75.54 mIoU (not reproduced here).
# Settings: mmrazor configs/distill/mmseg/cwd/
# cwd_logits_pspnet_r101-d8_pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py:
# ChannelWiseDivergence tau 1, loss_weight 5 on decode_head.conv_seg
# (19 x H/8 x W/8 on both sides), mmseg's 80k schedule, 4 GPUs x 2 images.
# Same pair, data and schedule as ../cankd/cankd_pspnet_r101-r18_4xb2-80k_cityscapes-512x1024.py;
# only the distiller differs.
_base_ = '../cankd/cankd_pspnet_r101-r18_4xb2-80k_cityscapes-512x1024.py'

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
