# FitNets (L2Loss, loss_weight 10) on the toy data: teacher retinanet_r18_toy-coco -> student
# retinanet_r18-w16_toy-coco. Settings of
# ../fitnets/fitnets_retinanet_r101-r50_fpn_2xb2-2x_coco.py (see its header for their sources),
# here on 3 FPN levels (the student's 32 channels lifted to 64 by a 1x1 conv + BN per level, as
# for CanKD). Train the teacher first (tools/quickstart.py) and point teacher_ckpt at it, as for
# cankd_retinanet_r18-r18w16_toy-coco.py.
_base_ = './cankd_retinanet_r18-r18w16_toy-coco.py'

model = dict(
    distiller=dict(
        _delete_=True,
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        connectors={
            f's_fpn{i}': dict(type='ConvModuleConnector', in_channel=32, out_channel=64,
                              norm_cfg=dict(type='BN'), act_cfg=None)
            for i in range(3)
        },
        distill_losses={
            f'loss_l2_fpn{i}': dict(type='L2Loss', loss_weight=10) for i in range(3)
        },
        loss_forward_mappings={
            f'loss_l2_fpn{i}': dict(
                s_feature=dict(from_student=True, recorder='fpn', data_idx=i,
                               connector=f's_fpn{i}'),
                t_feature=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(3)
        }))
