# CrossKD (Cross-Head KD, arXiv 2306.11369, CVPR 2024), GFL R-101 ms-2x
# (44.9 in CrossKD's table; mmdet lists 44.7) -> GFL R-50 1x (40.2), COCO 1x:
# published 43.7 box AP (CrossKD README, jbwang1997/CrossKD; not reproduced here).
# Settings: the official configs/crosskd/crosskd_r50_gflv1_r101-2x-ms_fpn_1x_coco.py:
# the student's head features after its 3rd conv of each tower
# (reused_teacher_head_idx=3 of 4) go through the teacher's 4th conv and
# predictors; KD losses on the cross-head predictions vs the teacher's:
# KDQualityFocalLoss beta 1 weight 1 (avg over the positives, ignored priors
# left out), LD (KL, T 1, summed over the 17 bins) weight 3 and GIoU on the
# decoded boxes weight 2, both weighted by the teacher's top score and
# averaged over those weights (this process's sum, as in the official code;
# the cls KD's number of positives is averaged over the GPUs,
# reduce_avg_factor, as the official reduce_mean). 8 GPUs x 2 images, SGD
# lr 0.01 (GFL's), mmdet's 1x schedule and COCO pipeline (from the student's
# mmdet config).
_base_ = 'mmdet::gfl/gfl_r50_fpn_1x_coco.py'

CROSS = 'cankd.models.algorithms.crosskd_distill.CrossKDDistill.cross_head_forward'
TEACHER = 'cankd.models.algorithms.crosskd_distill.CrossKDDistill.teacher_head_forward'
TARGETS = 'mmdet.models.dense_heads.gfl_head.GFLHead.get_targets'

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/gfl/gfl_r101_fpn_mstrain_2x_coco/gfl_r101_fpn_mstrain_2x_coco_20200629_200126-dd12f847.pth'  # noqa: E501
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='CrossKDDistill',
    architecture=dict(cfg_path='mmdet::gfl/gfl_r50_fpn_1x_coco.py', pretrained=False),
    teacher=dict(cfg_path='mmdet::gfl/gfl_r101_fpn_ms-2x_coco.py', pretrained=False),
    teacher_ckpt=teacher_ckpt,
    reused_teacher_head_idx=3,
    distiller=dict(
        type='ConfigurableDistiller',
        # (cls_scores, bbox_preds, boxes, centernesses) of the cross head / the
        # teacher head; the student's targets (GFLHead.get_targets: 2 =
        # label_weights, 5 = number of positives).
        student_recorders=dict(
            cross=dict(type='MethodOutputs', source=CROSS),
            targets=dict(type='MethodOutputs', source=TARGETS)),
        teacher_recorders=dict(head=dict(type='MethodOutputs', source=TEACHER)),
        distill_losses=dict(
            loss_cls_kd=dict(type='KDQualityFocalLoss', beta=1, loss_weight=1.0,
                             reduce_avg_factor=True),
            loss_reg_kd=dict(type='LocalizationDistillLoss', reg_max=16, T=1,
                             bin_reduction='sum', normalize='weight_sum', loss_weight=3.0),
            loss_bbox_kd=dict(type='CrossKDBoxLoss', mode='giou', normalize='weight_sum',
                              loss_weight=2.0)),
        loss_forward_mappings=dict(
            loss_cls_kd=dict(
                preds_S=dict(from_student=True, recorder='cross', data_idx=0),
                preds_T=dict(from_student=False, recorder='head', data_idx=0),
                label_weights=dict(from_student=True, recorder='targets', data_idx=2),
                avg_factor=dict(from_student=True, recorder='targets', data_idx=5)),
            loss_reg_kd=dict(
                preds_S=dict(from_student=True, recorder='cross', data_idx=1),
                preds_T=dict(from_student=False, recorder='head', data_idx=1),
                scores=dict(from_student=False, recorder='head', data_idx=0),
                label_weights=dict(from_student=True, recorder='targets', data_idx=2)),
            loss_bbox_kd=dict(
                boxes_S=dict(from_student=True, recorder='cross', data_idx=2),
                boxes_T=dict(from_student=False, recorder='head', data_idx=2),
                scores_T=dict(from_student=False, recorder='head', data_idx=0),
                label_weights=dict(from_student=True, recorder='targets', data_idx=2)))))

train_dataloader = dict(batch_size=2)
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
