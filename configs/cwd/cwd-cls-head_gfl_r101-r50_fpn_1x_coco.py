# CWD (channel-wise distillation, arXiv 2011.13256) on the classification
# head, GFL R-101 ms-2x (44.7) -> GFL R-50 1x (40.2), COCO 1x: mmrazor
# publishes 41.9 box AP (not reproduced here).
# Settings: the config the 41.9 was trained with, mmrazor v0.3
# configs/distill/cwd/cwd_cls_head_gfl_r101_fpn_gfl_r50_fpn_1x_coco.py (its
# log is v0.1): ChannelWiseDivergence tau 1, loss_weight 5 on every output of
# bbox_head.gfl_cls, the 80-class logit map of each FPN level P3-P7 (the
# head's conv is shared, so it runs 5 times: record_idx 0..4 here, one
# loss per level as v0.3's distiller did); SGD lr 0.01 (GFL's own), mmdet's
# 1x schedule and COCO pipeline. (mmrazor 1.x's file of that name inherits
# its FPN-feature distiller from cwd_fpn_retina_r101_retina_r50_1x_coco.py
# instead; its README row still points to the v0.x model and log.)
_base_ = [
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/gfl/gfl_r101_fpn_mstrain_2x_coco/gfl_r101_fpn_mstrain_2x_coco_20200629_200126-dd12f847.pth'  # noqa: E501
model = dict(
    _scope_='cankd',
    type='SingleTeacherDistill',
    architecture=dict(cfg_path='mmdet::gfl/gfl_r50_fpn_1x_coco.py', pretrained=False),
    teacher=dict(cfg_path='mmdet::gfl/gfl_r101_fpn_ms-2x_coco.py', pretrained=False),
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(cls=dict(type='ModuleOutputs', source='bbox_head.gfl_cls')),
        teacher_recorders=dict(cls=dict(type='ModuleOutputs', source='bbox_head.gfl_cls')),
        distill_losses={
            f'loss_cwd_cls_head{i}': dict(type='ChannelWiseDivergence', tau=1, loss_weight=5)
            for i in range(5)
        },
        loss_forward_mappings={
            f'loss_cwd_cls_head{i}': dict(
                preds_S=dict(from_student=True, recorder='cls', record_idx=i),
                preds_T=dict(from_student=False, recorder='cls', record_idx=i))
            for i in range(5)
        }))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001))

find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
