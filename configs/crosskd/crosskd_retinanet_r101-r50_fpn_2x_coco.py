# CrossKD (Cross-Head KD, arXiv 2306.11369, CVPR 2024), RetinaNet R-101 2x
# (38.9) -> RetinaNet R-50 2x (37.4), COCO 2x: published 39.7 box AP (CrossKD
# README, jbwang1997/CrossKD; not reproduced here).
# Settings: the official configs/crosskd/crosskd_r50_retinanet_r101_fpn_2x_coco.py:
# reused_teacher_head_idx=3 of 4; KDQualityFocalLoss beta 1 weight 1 and
# GIoU on the decoded boxes weight 1 (weighted by the teacher's top score,
# ignored anchors left out), both averaged over the positives. 8 GPUs x 2
# images, SGD lr 0.01 (RetinaNet's), mmdet's 2x schedule and COCO pipeline.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_2x_coco.py'

CROSS = 'cankd.models.algorithms.crosskd_distill.CrossKDDistill.cross_head_forward'
TEACHER = 'cankd.models.algorithms.crosskd_distill.CrossKDDistill.teacher_head_forward'
# RetinaHead inherits it: outputs 1 = label_weights, 4 = number of positives
TARGETS = 'mmdet.models.dense_heads.anchor_head.AnchorHead.get_targets'

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_r101_fpn_2x_coco/retinanet_r101_fpn_2x_coco_20200131-5560aee8.pth'  # noqa: E501
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='CrossKDDistill',
    architecture=dict(cfg_path='mmdet::retinanet/retinanet_r50_fpn_2x_coco.py', pretrained=False),
    teacher=dict(cfg_path='mmdet::retinanet/retinanet_r101_fpn_2x_coco.py', pretrained=False),
    teacher_ckpt=teacher_ckpt,
    reused_teacher_head_idx=3,
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

train_dataloader = dict(batch_size=2)
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
