# CrossKD (Cross-Head KD, arXiv 2306.11369, CVPR 2024), ATSS R-101 (41.5) ->
# ATSS R-50 (39.4), COCO 1x: published 41.8 box AP (CrossKD README,
# jbwang1997/CrossKD; not reproduced here).
# Settings: the official configs/crosskd/crosskd_r50_atss_r101_fpn_1x_coco.py:
# reused_teacher_head_idx=3 of 4; KDQualityFocalLoss beta 1 weight 1 (ignored
# priors left out), GIoU on the decoded boxes weight 1 (weighted by the
# teacher's top score) and centerness KD (BCE towards the teacher's sigmoid
# centerness on the positives) weight 1, all averaged over the positives
# (their number averaged over the GPUs, reduce_avg_factor, as the official
# reduce_mean).
# The official config loads 8 images per GPU with lr 0.01 for 16 images
# (auto_scale_lr): 2 GPUs x 8 here, or pass --auto-scale-lr. mmdet's 1x
# schedule and COCO pipeline (from the student's mmdet config).
_base_ = 'mmdet::atss/atss_r50_fpn_1x_coco.py'

CROSS = 'cankd.models.algorithms.crosskd_distill.CrossKDDistill.cross_head_forward'
TEACHER = 'cankd.models.algorithms.crosskd_distill.CrossKDDistill.teacher_head_forward'
# 1 = labels, 2 = label_weights, 5 = number of positives
TARGETS = 'mmdet.models.dense_heads.atss_head.ATSSHead.get_targets'

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/atss/atss_r101_fpn_1x_coco/atss_r101_fpn_1x_20200825-dfcadd6f.pth'  # noqa: E501
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='CrossKDDistill',
    architecture=dict(cfg_path='mmdet::atss/atss_r50_fpn_1x_coco.py', pretrained=False),
    teacher=dict(cfg_path='mmdet::atss/atss_r101_fpn_1x_coco.py', pretrained=False),
    teacher_ckpt=teacher_ckpt,
    reused_teacher_head_idx=3,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(
            cross=dict(type='MethodOutputs', source=CROSS),
            targets=dict(type='MethodOutputs', source=TARGETS)),
        teacher_recorders=dict(head=dict(type='MethodOutputs', source=TEACHER)),
        distill_losses=dict(
            loss_cls_kd=dict(type='KDQualityFocalLoss', beta=1, loss_weight=1.0,
                             reduce_avg_factor=True),
            loss_reg_kd=dict(type='CrossKDBoxLoss', mode='giou', normalize='avg_factor',
                             loss_weight=1.0, reduce_avg_factor=True),
            loss_center_kd=dict(type='CenternessKDLoss', num_classes=80, loss_weight=1.0,
                                reduce_avg_factor=True)),
        loss_forward_mappings=dict(
            loss_cls_kd=dict(
                preds_S=dict(from_student=True, recorder='cross', data_idx=0),
                preds_T=dict(from_student=False, recorder='head', data_idx=0),
                label_weights=dict(from_student=True, recorder='targets', data_idx=2),
                avg_factor=dict(from_student=True, recorder='targets', data_idx=5)),
            loss_reg_kd=dict(
                boxes_S=dict(from_student=True, recorder='cross', data_idx=2),
                boxes_T=dict(from_student=False, recorder='head', data_idx=2),
                scores_T=dict(from_student=False, recorder='head', data_idx=0),
                label_weights=dict(from_student=True, recorder='targets', data_idx=2),
                avg_factor=dict(from_student=True, recorder='targets', data_idx=5)),
            loss_center_kd=dict(
                preds_S=dict(from_student=True, recorder='cross', data_idx=3),
                preds_T=dict(from_student=False, recorder='head', data_idx=3),
                labels=dict(from_student=True, recorder='targets', data_idx=1),
                avg_factor=dict(from_student=True, recorder='targets', data_idx=5)))))

train_dataloader = dict(batch_size=8)
auto_scale_lr = dict(base_batch_size=16)
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
