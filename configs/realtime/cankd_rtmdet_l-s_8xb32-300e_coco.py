# CanKD on a real-time detector: RTMDet-l (51.3 box AP) -> RTMDet-s (44.5),
# mmdet 3.3's RTMDet-s recipe unchanged (300 epochs, 8 GPUs x 32 images,
# AdamW, CachedMosaic/CachedMixUp, PipelineSwitchHook at epoch 280, EMAHook).
# No published CanKD number exists for this pair; loss_weight 10 (the RetinaNet
# setting) is untuned.
#
# Features: the CSPNeXt-PAFPN outputs 3 levels (strides 8/16/32), 256 channels
# per level for RTMDet-l and 128 for RTMDet-s, so each student level goes
# through a 1x1 conv + BN connector to 256 channels before CanKD.
#
# Pipelines: mosaic/mixup and the stage-2 switch are in the dataset, and the
# teacher runs inside the algorithm's loss on the batch the student gets, so
# the teacher always sees the same augmented (and padded) images.
#
# EMA: mmdet's EMAHook averages runner.model, here the whole distillation
# algorithm. Kept as is, deliberately: the student's EMA is what RTMDet
# evaluates and ships; the teacher is frozen, so its EMA is itself (lerp of a
# constant; num_batches_tracked is not averaged) at the cost of a second copy
# of its weights in memory; the distiller's connectors / CanKD modules are
# averaged too but are not used at evaluation. Validation runs on the EMA
# weights, and a checkpoint's state_dict holds them (ema_state_dict the raw
# ones), so tools/model_converters/convert_kd_ckpt_to_student.py exports the
# EMA student: the weights that were evaluated.
_base_ = 'mmdet::rtmdet/rtmdet_s_8xb32-300e_coco.py'

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v3.0/rtmdet/rtmdet_l_8xb32-300e_coco/rtmdet_l_8xb32-300e_coco_20220719_112030-5a0be7c4.pth'  # noqa: E501
levels = 3
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='FpnTeacherDistill',
    architecture=dict(cfg_path='mmdet::rtmdet/rtmdet_s_8xb32-300e_coco.py', pretrained=False),
    teacher=dict(cfg_path='mmdet::rtmdet/rtmdet_l_8xb32-300e_coco.py', pretrained=False),
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

find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
