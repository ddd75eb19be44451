# CrossKD's RetinaNet recipe (official configs/crosskd/crosskd_r50_retinanet_
# r101_fpn_2x_coco.py) as a distiller, for CrossKDDistill: KDQualityFocalLoss
# (beta 1, weight 1) on the cross-head scores and GIoU (weight 1) on the
# decoded cross-head boxes, weighted by the teacher's top score, ignored
# anchors left out, both divided by the student's number of positives (this
# process's, as the official RetinaNet code). A config takes it whole:
#   _base_ = [<student>, '../_base_/distillers/crosskd_retinanet.py']
#   model = dict(..., distiller={{_base_.crosskd_retinanet_distiller}})
_cross = 'cankd.models.algorithms.crosskd_distill.CrossKDDistill.cross_head_forward'
_teacher = 'cankd.models.algorithms.crosskd_distill.CrossKDDistill.teacher_head_forward'
# RetinaHead inherits it: outputs 1 = label_weights, 4 = number of positives
_targets = 'mmdet.models.dense_heads.anchor_head.AnchorHead.get_targets'

crosskd_retinanet_distiller = dict(
    type='ConfigurableDistiller',
    student_recorders=dict(
        cross=dict(type='MethodOutputs', source=_cross),
        targets=dict(type='MethodOutputs', source=_targets)),
    teacher_recorders=dict(head=dict(type='MethodOutputs', source=_teacher)),
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
            avg_factor=dict(from_student=True, recorder='targets', data_idx=4))))
