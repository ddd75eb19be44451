# FitNets (arXiv 1412.6550) hint loss, RetinaNet R-101 (38.9) -> R-50 (37.4),
# 2x. Same pair, data, schedule and optimiser as
# ../cankd/cankd_retinanet_r101-r50_fpn_2xb2-2x_coco.py; only the distiller differs.
# Settings: L2Loss as mmrazor's FitNets config
# (configs/distill/mmcls/fitnets/fitnets_backbone_logits_resnet50_resnet18_8xb32_in1k.py):
# normalised features, loss_weight 10. mmrazor has no detection FitNets config:
# the 5 FPN levels (P3-P7, 256 ch, no connector needed) are our choice, as for
# CWD/MGD/FGD. Published for this pair: 37.4 box AP (MasKD, arXiv 2205.14589).
_base_ = '../cankd/cankd_retinanet_r101-r50_fpn_2xb2-2x_coco.py'

model = dict(
    distiller=dict(
        _delete_=True,
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        distill_losses={
            f'loss_l2_fpn{i}': dict(type='L2Loss', loss_weight=10) for i in range(5)
        },
        loss_forward_mappings={
            f'loss_l2_fpn{i}': dict(
                s_feature=dict(from_student=True, recorder='fpn', data_idx=i),
                t_feature=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(5)
        }))
