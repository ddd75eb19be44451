# CanKD on the FPN + CrossKD on the head, on the toy data: teacher
# retinanet_r18_toy-coco -> a student with the 1/4-width ResNet-18 of
# retinanet_r18-w16_toy-coco but the teacher's 64-channel FPN and head:
# CrossKD runs the student's head features through the teacher's head, so
# the head widths must match (CrossKD uses no connector). The student's
# first head conv of each tower (reused_teacher_head_idx=1 of 2) feeds the
# teacher's second conv and predictors; CrossKD's RetinaNet recipe
# (KDQualityFocalLoss weight 1, GIoU weight 1) next to CanKD on the 3 FPN
# levels (64 channels, weight 10). Train the teacher first (tools/quickstart.py
# does) and point teacher_ckpt at it:
#   python tools/train.py configs/quickstart/cankd-crosskd_retinanet_r18-r18w16h64_toy-coco.py
# To test the exported student with plain mmdet, give its widths:
#   --cfg-options model.neck.out_channels=64 model.bbox_head.in_channels=64 \
#       model.bbox_head.feat_channels=64   (on retinanet_r18-w16_toy-coco.py)
_base_ = './retinanet_r18-w16_toy-coco.py'

CROSS = 'cankd.models.algorithms.crosskd_distill.CrossKDDistill.cross_head_forward'
TEACHER = 'cankd.models.algorithms.crosskd_distill.CrossKDDistill.teacher_head_forward'
TARGETS = 'mmdet.models.dense_heads.anchor_head.AnchorHead.get_targets'

teacher_ckpt = 'work_dirs/quickstart/det/teacher/iter_1500.pth'
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='CrossKDDistill',
    architecture=dict(cfg_path='configs/quickstart/retinanet_r18-w16_toy-coco.py',
                      neck=dict(out_channels=64),
                      bbox_head=dict(in_channels=64, feat_channels=64)),
    teacher=dict(cfg_path='configs/quickstart/retinanet_r18_toy-coco.py'),
    teacher_ckpt=teacher_ckpt,
    reused_teacher_head_idx=1,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(
            fpn=dict(type='ModuleOutputs', source='neck'),
            cross=dict(type='MethodOutputs', source=CROSS),
            targets=dict(type='MethodOutputs', source=TARGETS)),
        teacher_recorders=dict(
            fpn=dict(type='ModuleOutputs', source='neck'),
            head=dict(type='MethodOutputs', source=TEACHER)),
        distill_losses=dict(
            loss_cls_kd=dict(type='KDQualityFocalLoss', beta=1, loss_weight=1.0),
            loss_reg_kd=dict(type='CrossKDBoxLoss', mode='giou', normalize='avg_factor',
                             loss_weight=1.0),
            **{
                f'loss_cankd_fpn{i}': dict(type='CanKDLoss', in_channels=64, loss_weight=10)
                for i in range(3)
            }),
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
                avg_factor=dict(from_student=True, recorder='targets', data_idx=4)),
            **{
                f'loss_cankd_fpn{i}': dict(
                    s_feature=dict(from_student=True, recorder='fpn', data_idx=i),
                    t_feature=dict(from_student=False, recorder='fpn', data_idx=i))
                for i in range(3)
            })))
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
