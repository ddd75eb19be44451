# FBKD (Zhang & Ma, ICLR 2021, https://openreview.net/forum?id=uKhGRvM8QNH),
# Faster R-CNN R-101 1x (39.4) -> R-50 1x (37.4), COCO 1x: mmrazor publishes
# 39.3 box AP (not reproduced here).
# Settings: mmrazor configs/distill/mmdet/fbkd/fbkd_fpn_faster-rcnn_r101_faster-rcnn_r50_1x_coco.py:
# FBKDLoss with its defaults (mask_l2 7e-5, channel 4e-3, spatial 4e-3,
# non-local 7e-5) on FPN levels P2-P5 (neck.fpn_convs.0..3.conv, 256 ch),
# through FBKDStudentConnector / FBKDTeacherConnector (dot-product non-local,
# reduction 4 and max-pool stride 8 / 4 on P2 / P3, defaults on P4 / P5);
# mmdet's 1x schedule (SGD lr 0.02 for 16 images) and COCO pipeline.
# mmrazor builds the student with pretrained=True, i.e. starting from mmdet's
# trained Faster R-CNN R-50 1x (37.4); here the same weights come through the
# student's init_cfg, loaded when training starts (init_weights), so that
# building the model stays offline.
_base_ = [
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]

student_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/faster_rcnn_r50_fpn_1x_coco/faster_rcnn_r50_fpn_1x_coco_20200130-047c8118.pth'  # noqa: E501
teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/faster_rcnn_r101_fpn_1x_coco/faster_rcnn_r101_fpn_1x_coco_20200130-f513f705.pth'  # noqa: E501
model = dict(
    _scope_='cankd',
    type='SingleTeacherDistill',
    architecture=dict(
        cfg_path='mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
        pretrained=False,
        init_cfg=dict(type='Pretrained', checkpoint=student_ckpt)),
    teacher=dict(cfg_path='mmdet::faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py',
                 pretrained=False),
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders={
            f'neck_s{i}': dict(type='ModuleOutputs', source=f'neck.fpn_convs.{i}.conv')
            for i in range(4)
        },
        teacher_recorders={
            f'neck_s{i}': dict(type='ModuleOutputs', source=f'neck.fpn_convs.{i}.conv')
            for i in range(4)
        },
        distill_losses={f'loss_s{i}': dict(type='FBKDLoss') for i in range(4)},
        # P2, P3: reduction 4 and a coarser max-pool in the non-local block; P4, P5:
        # the connectors' defaults (reduction 2, stride 2).
        connectors={
            f'loss_s{i}_{side}feat': dict(type=f'FBKD{kind}Connector', in_channels=256,
                                          mode='dot_product', sub_sample=True, **kw)
            for side, kind in (('s', 'Student'), ('t', 'Teacher'))
            for i, kw in enumerate((dict(reduction=4, maxpool_stride=8),
                                    dict(reduction=4, maxpool_stride=4), dict(), dict()))
        },
        loss_forward_mappings={
            f'loss_s{i}': dict(
                s_input=dict(from_student=True, recorder=f'neck_s{i}',
                             connector=f'loss_s{i}_sfeat'),
                t_input=dict(from_student=False, recorder=f'neck_s{i}',
                             connector=f'loss_s{i}_tfeat'))
            for i in range(4)
        }))

find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
