# CanKD on the FPN + CrossKD on the head, GFL R-101 ms-2x -> GFL R-50 1x,
# COCO 1x. No published number: neither paper trains this combination.
# Settings: ./crosskd_gfl_r101-r50_fpn_1x_coco.py unchanged, plus CanKD as in
# ../_base_/cankd_det_2xb2-2x_coco.py (CanKDLoss on FPN outputs 0..3, 256
# channels, weight 10). The losses log apart: distill.loss_cankd_fpn0..3,
# distill.loss_cls_kd, distill.loss_reg_kd, distill.loss_bbox_kd.
_base_ = './crosskd_gfl_r101-r50_fpn_1x_coco.py'

model = dict(
    distiller=dict(
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        distill_losses={
            f'loss_cankd_fpn{i}': dict(type='CanKDLoss', in_channels=256, loss_weight=10)
            for i in range(4)
        },
        loss_forward_mappings={
            f'loss_cankd_fpn{i}': dict(
                s_feature=dict(from_student=True, recorder='fpn', data_idx=i),
                t_feature=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(4)
        }))
