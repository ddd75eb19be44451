# FitNets (arXiv 1412.6550) hint loss, DeepLabV3 R-101 -> DeepLabV3
# MobileNetV2 (73.84), Cityscapes 80k. Same pair, data and schedule as
# ../cankd/cankd_deeplabv3_r101-mbv2_4xb2-80k_cityscapes-512x1024.py.
# Settings as mmrazor's FitNets config
# (configs/distill/mmcls/fitnets/fitnets_backbone_logits_resnet50_resnet18_8xb32_in1k.py):
# L2Loss loss_weight 10 on the last backbone stage, the student lifted by a
# ConvModule connector (1x1 conv + BN + ReLU, mmrazor's default act) 320 -> 2048.
# Teacher backbone.layer4 and student backbone.layer7 are both 1/8 of the input.
_base_ = '../cankd/cankd_deeplabv3_r101-mbv2_4xb2-80k_cityscapes-512x1024.py'

model = dict(
    distiller=dict(
        _delete_=True,
        type='ConfigurableDistiller',
        student_recorders=dict(bb=dict(type='ModuleOutputs', source='backbone.layer7')),
        teacher_recorders=dict(bb=dict(type='ModuleOutputs', source='backbone.layer4')),
        connectors=dict(
            hint=dict(type='ConvModuleConnector', in_channel=320, out_channel=2048,
                      norm_cfg=dict(type='BN'))),
        distill_losses=dict(loss_l2=dict(type='L2Loss', loss_weight=10)),
        loss_forward_mappings=dict(
            loss_l2=dict(
                s_feature=dict(from_student=True, recorder='bb', connector='hint'),
                t_feature=dict(from_student=False, recorder='bb')))))
