# CanKD on the toy data, student with the teacher's FPN width: teacher
# retinanet_r18_toy-coco -> student retinanet_r18-w16h64_toy-coco, on the 3
# FPN levels (64 channels both, no connector; loss_weight 10). The CanKD row
# of the feature-vs-head comparison (docs/head_and_multi_teacher.md); the
# one-teacher row of the one-vs-two-teacher comparison too.
_base_ = './retinanet_r18-w16h64_toy-coco.py'

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
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        distill_losses={
            f'loss_cankd_fpn{i}': dict(type='CanKDLoss', in_channels=64, loss_weight=10)
            for i in range(3)
        },
        loss_forward_mappings={
            f'loss_cankd_fpn{i}': dict(
                s_feature=dict(from_student=True, recorder='fpn', data_idx=i),
                t_feature=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(3)
        }))
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
