# CanKD on a real-time detector: YOLOX-l (49.4 box AP) -> YOLOX-s (40.5),
# mmdet 3.3's YOLOX-s recipe unchanged (300 epochs, 8 GPUs x 8 images, SGD,
# Mosaic/RandomAffine/MixUp, mode switch for the last 15 epochs, SyncNormHook,
# EMAHook). No published CanKD number exists for this pair; loss_weight 10
# (the RetinaNet setting) is untuned.
#
# Features: YOLOX-PAFPN gives 3 levels (strides 8/16/32), 256 channels per
# level for YOLOX-l and 128 for YOLOX-s: a 1x1 conv + BN connector per level.
#
# Pipelines: Mosaic/MixUp are in the dataset; the multi-scale training
# (BatchSyncRandomResize, a batch augment of the data preprocessor) runs in
# the algorithm's data preprocessor (the student's), before the loss: the
# teacher and the student get the same resized batch. YOLOX's preprocessor does
# not normalise, for either model.
#
# Hooks: mmdet's YOLOXModeSwitchHook sets model.bbox_head.use_l1, which a
# distillation algorithm does not have; cankd.DistillYOLOXModeSwitchHook does
# the same switch (pipeline, and the L1 loss on the student's head).
# SyncNormHook (several GPUs) all-reduces every norm layer's statistics, the
# frozen teacher's included: they are equal on every rank, so unchanged.
# EMA: as in ./cankd_rtmdet_l-s_8xb32-300e_coco.py, mmdet's EMAHook averages
# the whole algorithm; the frozen teacher's EMA is itself, the student's EMA
# is what is validated, saved in the checkpoint's state_dict and exported.
_base_ = 'mmdet::yolox/yolox_s_8xb8-300e_coco.py'

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/yolox/yolox_l_8x8_300e_coco/yolox_l_8x8_300e_coco_20211126_140236-d3bd2b23.pth'  # noqa: E501
levels = 3
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='FpnTeacherDistill',
    architecture=dict(cfg_path='mmdet::yolox/yolox_s_8xb8-300e_coco.py', pretrained=False),
    teacher=dict(cfg_path='mmdet::yolox/yolox_l_8xb8-300e_coco.py', pretrained=False),
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        connectors={
            f's_fpn{i}': dict(type='ConvModuleConnector', in_channel=128, out_channel=256,
                              norm_cfg=dict(type='BN'), act_cfg=None)
            for i in range(levels)
        },
        distill_losses={
            f'loss_cankd_fpn{i}': dict(type='CanKDLoss', in_channels=256, loss_weight=10)
            for i in range(levels)
        },
        loss_forward_mappings={
            f'loss_cankd_fpn{i}': dict(
                s_feature=dict(from_student=True, recorder='fpn', data_idx=i,
                               connector=f's_fpn{i}'),
                t_feature=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(levels)
        }))

custom_hooks = [
    dict(type='cankd.DistillYOLOXModeSwitchHook', num_last_epochs=15, priority=48),
    dict(type='SyncNormHook', priority=48),
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0001, update_buffers=True,
         priority=49),
]
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
