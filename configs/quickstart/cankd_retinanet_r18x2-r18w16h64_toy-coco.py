# CanKD from two teachers at once on the toy data: two RetinaNet R-18 teachers
# (retinanet_r18_toy-coco.py trained with seeds 0 and 1, both 1500 iterations)
# -> student retinanet_r18-w16h64_toy-coco (64-channel FPN, no connector). One
# CanKDLoss per teacher and FPN level (loss_weight 10), each teacher's terms
# scaled by its loss_weight 0.5, so the total distill weight equals the
# one-teacher config's (cankd_retinanet_r18-r18w16h64_toy-coco.py); both
# teachers run backbone + neck only (fpn_only=True). The two-teacher row of the
# one-vs-two-teacher comparison (docs/head_and_multi_teacher.md).
_base_ = './retinanet_r18-w16h64_toy-coco.py'

teacher_names = ('seed0', 'seed1')
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='MultiTeacherDistill',
    architecture=dict(cfg_path='configs/quickstart/retinanet_r18-w16h64_toy-coco.py'),
    teachers=dict(
        seed0=dict(model=dict(cfg_path='configs/quickstart/retinanet_r18_toy-coco.py'),
                   ckpt='work_dirs/quickstart/det/teacher/iter_1500.pth',
                   fpn_only=True, loss_weight=0.5),
        seed1=dict(model=dict(cfg_path='configs/quickstart/retinanet_r18_toy-coco.py'),
                   ckpt='work_dirs/quickstart/det/teacher_seed1/iter_1500.pth',
                   fpn_only=True, loss_weight=0.5)),
    distiller=dict(
        type='MultiTeacherDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders={t: dict(fpn=dict(type='ModuleOutputs', source='neck'))
                           for t in teacher_names},
        distill_losses={
            f'loss_cankd_{t}_fpn{i}': dict(type='CanKDLoss', in_channels=64, loss_weight=10)
            for t in teacher_names for i in range(3)
        },
        loss_forward_mappings={
            f'loss_cankd_{t}_fpn{i}': dict(
                s_feature=dict(from_student=True, recorder='fpn', data_idx=i),
                t_feature=dict(from_student=False, teacher=t, recorder='fpn', data_idx=i))
            for t in teacher_names for i in range(3)
        }))
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
