# PKD (Pearson correlation, arXiv 2207.02039) on the last backbone stage,
# DeepLabV3 R-101 -> DeepLabV3 MobileNetV2 (73.84), Cityscapes 80k. Same pair,
# data and schedule as ../cankd/cankd_deeplabv3_r101-mbv2_4xb2-80k_cityscapes-512x1024.py.
# PKD is published for detectors only: the weight (6) is mmrazor's detection
# setting (configs/distill/mmdet/pkd/pkd_fpn_frcnn_r101_frcnn_r50_2x_coco.py),
# the feature pair the CanKD one (teacher layer4, 2048 ch; student layer7,
# 320 ch, lifted by the same 1x1 conv + BN connector; PKD standardises each
# channel, so the connector's scale does not matter).
_base_ = '../cankd/cankd_deeplabv3_r101-mbv2_4xb2-80k_cityscapes-512x1024.py'

model = dict(
    distiller=dict(
        _delete_=True,
        type='ConfigurableDistiller',
        student_recorders=dict(bb=dict(type='ModuleOutputs', source='backbone.layer7')),
        teacher_recorders=dict(bb=dict(type='ModuleOutputs', source='backbone.layer4')),
        connectors=dict(
            lift=dict(type='ConvModuleConnector', in_channel=320, out_channel=2048,
                      norm_cfg=dict(type='BN'), act_cfg=None)),
        distill_losses=dict(loss_pkd=dict(type='PKDLoss', loss_weight=6)),
        loss_forward_mappings=dict(
            loss_pkd=dict(
                preds_S=dict(from_student=True, recorder='bb', connector='lift'),
                preds_T=dict(from_student=False, recorder='bb')))))
