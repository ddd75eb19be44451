# MGD (masked generative distillation, arXiv 2205.01529) on the last backbone
# stage, DeepLabV3 R-101 -> DeepLabV3 MobileNetV2 (73.84), Cityscapes 80k.
# Same pair, data and schedule as
# ../cankd/cankd_deeplabv3_r101-mbv2_4xb2-80k_cityscapes-512x1024.py.
# Settings: official yzd-v/MGD, file
#   seg/configs/distillers/mgd/psp_r101_distill_deepv3_r18_40k_512x512_city.py:
# alpha_mgd 2e-5, lambda_mgd 0.75 on the last backbone feature (teacher
# layer4, 2048 ch; student layer7, 320 ch, aligned by the connector's 1x1 conv
# 320 -> 2048 before masking and generation). The official segmentation
# distiller also adds a CWD loss on the logits (tau 4, weight 3); it is left
# out here so that this config measures MGD alone (see ../cwd/ for CWD).
_base_ = '../cankd/cankd_deeplabv3_r101-mbv2_4xb2-80k_cityscapes-512x1024.py'

model = dict(
    distiller=dict(
        _delete_=True,
        type='ConfigurableDistiller',
        student_recorders=dict(bb=dict(type='ModuleOutputs', source='backbone.layer7')),
        teacher_recorders=dict(bb=dict(type='ModuleOutputs', source='backbone.layer4')),
        connectors=dict(
            s_bb_mgd=dict(type='MGDConnector', student_channels=320, teacher_channels=2048,
                          lambda_mgd=0.75)),
        distill_losses=dict(loss_mgd=dict(type='MGDLoss', alpha_mgd=0.00002)),
        loss_forward_mappings=dict(
            loss_mgd=dict(
                preds_S=dict(from_student=True, recorder='bb', connector='s_bb_mgd'),
                preds_T=dict(from_student=False, recorder='bb')))))
