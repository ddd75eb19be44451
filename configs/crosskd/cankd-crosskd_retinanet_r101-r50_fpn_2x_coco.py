# CanKD on the FPN + CrossKD on the head, RetinaNet R-101 (38.9) -> R-50
# (37.4), COCO 2x. No published number: neither paper trains this combination
# (CanKD alone: 39.7, ../cankd/cankd_retinanet_r101-r50_fpn_2xb2-2x_coco.py;
# CrossKD alone: 39.7, ./crosskd_retinanet_r101-r50_fpn_2x_coco.py).
# Settings: the CrossKD config unchanged (8 GPUs x 2, lr 0.01), plus CanKD as
# published (CanKDLoss on FPN outputs 0..3, 256 channels, weight 10). The
# losses log apart: distill.loss_cankd_fpn0..3, distill.loss_cls_kd,
# distill.loss_reg_kd.
_base_ = './crosskd_retinanet_r101-r50_fpn_2x_coco.py'

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
