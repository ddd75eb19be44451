# PKD (loss_weight 6 per level) on the toy data: teacher retinanet_r18_toy-coco -> student
# retinanet_r18-w16_toy-coco. Settings of ../pkd/pkd_retinanet_r101-r50_fpn_2xb2-2x_coco.py (see
# its header for their sources), here on 3 FPN levels (the student's 32 channels lifted to 64 by
# a 1x1 conv + BN per level, as for CanKD). Train the teacher first (tools/quickstart.py) and
# point teacher_ckpt at it, as for cankd_retinanet_r18-r18w16_toy-coco.py.
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
            f'loss_pkd_fpn{i}': dict(type='PKDLoss', loss_weight=6) for i in range(3)
        },
        loss_forward_mappings={
            f'loss_pkd_fpn{i}': dict(
                preds_S=dict(from_student=True, recorder='fpn', data_idx=i,
                             connector=f's_fpn{i}'),
                preds_T=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(3)
        }))
