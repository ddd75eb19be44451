# CrossKD on the toy data: teacher retinanet_r18_toy-coco -> student
# retinanet_r18-w16h64_toy-coco (the teacher's 64-channel FPN and head, which
# CrossKD needs: the student's head features run through the teacher's head).
# The student's first head conv of each tower (reused_teacher_head_idx=1 of 2)
# feeds the teacher's second conv and predictors; CrossKD's RetinaNet recipe:
# KDQualityFocalLoss (beta 1, weight 1) on the cross-head scores, GIoU (weight
# 1) on the cross-head boxes, both normalised by the student's avg_factor.
# Train the teacher first (tools/quickstart.py --task det does) and point
# teacher_ckpt at it.
_base_ = './retinanet_r18-w16h64_toy-coco.py'

CROSS = 'cankd.models.algorithms.crosskd_distill.CrossKDDistill.cross_head_forward'
TEACHER = 'cankd.models.algorithms.crosskd_distill.CrossKDDistill.teacher_head_forward'
TARGETS = 'mmdet.models.dense_heads.anchor_head.AnchorHead.get_targets'

teacher_ckpt = 'work_dirs/quickstart/det/teacher/iter_1500.pth'
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='CrossKDDistill',
    architecture=dict(cfg_path='configs/quickstart/retinanet_r18-w16h64_toy-coco.py'),
    teacher=dict(cfg_path='configs/quickstart/retinanet_r18_toy-coco.py'),
    teacher_ckpt=teacher_ckpt,
    reused_teacher_head_idx=1,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(
            cross=dict(type='MethodOutputs', source=CROSS),
            targets=dict(type='MethodOutputs', source=TARGETS)),
        teacher_recorders=dict(head=dict(type='MethodOutputs', source=TEACHER)),
        distill_losses=dict(
            loss_cls_kd=dict(type='KDQualityFocalLoss', beta=1, loss_weight=1.0),
            loss_reg_kd=dict(type='CrossKDBoxLoss', mode='giou', normalize='avg_factor',
                             loss_weight=1.0)),
        loss_forward_mappings=dict(
            loss_cls_kd=dict(
                preds_S=dict(from_student=True, recorder='cross', data_idx=0),
                preds_T=dict(from_student=False, recorder='head', data_idx=0),
                label_weights=dict(from_student=True, recorder='targets', data_idx=1),
                avg_factor=dict(from_student=True, recorder='targets', data_idx=4)),
            loss_reg_kd=dict(
                boxes_S=dict(from_student=True, recorder='cross', data_idx=2),
                boxes_T=dict(from_student=False, recorder='head', data_idx=2),
                scores_T=dict(from_student=False, recorder='head', data_idx=0),
                label_weights=dict(from_student=True, recorder='targets', data_idx=1),
                avg_factor=dict(from_student=True, recorder='targets', data_idx=4)))))
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
