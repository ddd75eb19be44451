# CrossKD (Cross-Head KD, arXiv 2306.11369, CVPR 2024), FCOS R-101 caffe
# gn-head ms 2x (40.8) -> FCOS R-50 caffe gn-head ms 2x (38.5), COCO: published
# 41.1 box AP (CrossKD README, jbwang1997/CrossKD; not reproduced here).
# Settings: the official configs/crosskd/crosskd_r50_fcos_r101-2x-ms_caffe_fpn_gn-head_2x_ms_coco.py:
# reused_teacher_head_idx=2 of 4; KDQualityFocalLoss beta 1 weight 0.4 (no
# ignored points) and IoU loss (-log IoU) on the decoded boxes weight 0.75,
# weighted by the teacher's top score; both averaged over FCOS's
# pos_centerness_denorm (the sum of the positives' centerness targets,
# recorded from FCOSHead.centerness_target), averaged over the GPUs
# (reduce_avg_factor, as the official reduce_mean). The official student is the
# plain mmdet FCOS R-50 caffe gn-head ms-640-800 2x; its schedule, lr 0.01,
# bias lr x2 and clipping (35) come from that mmdet config. 8 GPUs x 2.
_base_ = 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_ms-640-800-2x_coco.py'

CROSS = 'cankd.models.algorithms.crosskd_distill.CrossKDDistill.cross_head_forward'
TEACHER = 'cankd.models.algorithms.crosskd_distill.CrossKDDistill.teacher_head_forward'
CENTERNESS = 'mmdet.models.dense_heads.fcos_head.FCOSHead.centerness_target'

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/fcos/fcos_r101_caffe_fpn_gn-head_mstrain_640-800_2x_coco/fcos_r101_caffe_fpn_gn-head_mstrain_640-800_2x_coco-511424d6.pth'  # noqa: E501
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='CrossKDDistill',
    architecture=dict(cfg_path='mmdet::fcos/fcos_r50-caffe_fpn_gn-head_ms-640-800-2x_coco.py',
                      pretrained=False),
    teacher=dict(cfg_path='mmdet::fcos/fcos_r101-caffe_fpn_gn-head_ms-640-800-2x_coco.py',
                 pretrained=False),
    teacher_ckpt=teacher_ckpt,
    reused_teacher_head_idx=2,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(
            cross=dict(type='MethodOutputs', source=CROSS),
            centerness=dict(type='MethodOutputs', source=CENTERNESS)),
        teacher_recorders=dict(head=dict(type='MethodOutputs', source=TEACHER)),
        distill_losses=dict(
            loss_cls_kd=dict(type='KDQualityFocalLoss', beta=1, loss_weight=0.4,
                             reduce_avg_factor=True),
            loss_reg_kd=dict(type='CrossKDBoxLoss', mode='iou', normalize='avg_factor',
                             loss_weight=0.75, reduce_avg_factor=True)),
        loss_forward_mappings=dict(
            loss_cls_kd=dict(
                preds_S=dict(from_student=True, recorder='cross', data_idx=0),
                preds_T=dict(from_student=False, recorder='head', data_idx=0),
                # a tensor: its sum (at least 1e-6) is the average factor
                avg_factor=dict(from_student=True, recorder='centerness')),
            loss_reg_kd=dict(
                boxes_S=dict(from_student=True, recorder='cross', data_idx=2),
                boxes_T=dict(from_student=False, recorder='head', data_idx=2),
                scores_T=dict(from_student=False, recorder='head', data_idx=0),
                avg_factor=dict(from_student=True, recorder='centerness')))))

train_dataloader = dict(batch_size=2)
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
