# ACAM-KD (6 masks, alpha = lambda = 1) on the toy data: teacher retinanet_r18_toy-coco ->
# student retinanet_r18-w16_toy-coco. Settings of
# ../acam_kd/acam-kd_retinanet_r101-r50_fpn_2xb2-2x_coco.py (see its header for their
# sources), here on 3 FPN levels (student 32 channels, teacher 64). Train the teacher first
# (tools/quickstart.py) and point teacher_ckpt at it, as for
# cankd_retinanet_r18-r18w16_toy-coco.py.
_base_ = './cankd_retinanet_r18-r18w16_toy-coco.py'

model = dict(
    distiller=dict(
        _delete_=True,
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        distill_losses={
            f'loss_acam_fpn{i}': dict(type='ACAMKDLoss', student_channels=32,
                                      teacher_channels=64, num_masks=6,
                                      loss_weight=1.0, div_weight=1.0)
            for i in range(3)
        },
        loss_forward_mappings={
            f'loss_acam_fpn{i}': dict(
                preds_S=dict(from_student=True, recorder='fpn', data_idx=i),
                preds_T=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(3)
        }))
