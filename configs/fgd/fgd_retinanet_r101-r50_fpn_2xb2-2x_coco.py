# FGD (focal and global distillation, arXiv 2111.11837), RetinaNet R-101
# (38.9) -> R-50 (37.4), 2x. Same pair, data, schedule and optimiser as
# ../cankd/cankd_retinanet_r101-r50_fpn_2xb2-2x_coco.py; only the distiller differs.
# Settings: official yzd-v/FGD, file
#   configs/distillers/fgd/fgd_retina_r101_fpn_2x_distill_retina_r50_fpn_2x_coco.py
# (this very pair): one FGDLoss per FPN level P3-P7 (256 ch), temp 0.5,
# alpha 1e-3, beta 5e-4, gamma 5e-4, lambda 5e-6. The gt boxes reach the loss
# through the batch's data samples (ConfigurableDistiller passes them).
# The official config also starts the student's neck and head from the teacher
# (init_student=True); to do the same, inherit
# ../cankd/cankd-dagger_retinanet_r101-r50_fpn_2xb2-2x_coco.py instead.
_base_ = '../cankd/cankd_retinanet_r101-r50_fpn_2xb2-2x_coco.py'

model = dict(
    distiller=dict(
        _delete_=True,
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        distill_losses={
            f'loss_fgd_fpn{i}': dict(type='FGDLoss', student_channels=256, teacher_channels=256,
                                     temp=0.5, alpha_fgd=0.001, beta_fgd=0.0005,
                                     gamma_fgd=0.0005, lambda_fgd=0.000005)
            for i in range(5)
        },
        loss_forward_mappings={
            f'loss_fgd_fpn{i}': dict(
                preds_S=dict(from_student=True, recorder='fpn', data_idx=i),
                preds_T=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(5)
        }))
