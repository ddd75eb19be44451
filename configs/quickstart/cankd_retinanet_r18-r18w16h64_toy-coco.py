# CanKD on the toy data, student with the teacher's FPN width: teacher
# retinanet_r18_toy-coco -> student retinanet_r18-w16h64_toy-coco, on the 3
# FPN levels (64 channels both, no connector; loss_weight 10:
# ../_base_/distillers/toy_cankd_fpn64.py). The CanKD row of the
# feature-vs-head comparison (docs/head_and_multi_teacher.md); the
# one-teacher row of the one-vs-two-teacher comparison too.
_base_ = ['./retinanet_r18-w16h64_toy-coco.py', '../_base_/distillers/toy_cankd_fpn64.py']

teacher_ckpt = 'work_dirs/quickstart/det/teacher/iter_1500.pth'
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='FpnTeacherDistill',
    architecture=dict(cfg_path='configs/quickstart/retinanet_r18-w16h64_toy-coco.py'),
    teacher=dict(cfg_path='configs/quickstart/retinanet_r18_toy-coco.py'),
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders={{_base_.toy_cankd_fpn_recorders}},
        teacher_recorders={{_base_.toy_cankd_fpn_recorders}},
        distill_losses={{_base_.toy_cankd_fpn_losses}},
        loss_forward_mappings={{_base_.toy_cankd_fpn_mappings}}))
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
