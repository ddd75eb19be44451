# CanKD on DINO: DINO-4scale R-101 (50.4, trained by the CanKD authors) ->
# DINO-4scale R-50 (49.0), COCO 12 epochs: published 49.7 box AP. CanKD on the
# three ChannelMapper outputs the backbone stages feed (256 channels, strides
# 8..32). As the official nlkd_dino-r101_dino-r50_12e_coco.py
# (tori-hotaru/CanKD@f951e3a): the student's neck, transformer encoder,
# decoder and head start from the teacher's weights (its backbone from
# ImageNet), and its backbone has no frozen stage (frozen_stages=1 is
# commented out there). The student trains with its own mmdet recipe
# (AdamW 1e-4, 8 GPUs x 2 images, 12 epochs).
#
# No DINO R-101 checkpoint is published (neither mmdet nor the CanKD
# authors): train the teacher first, e.g.
#   python tools/train.py mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py \
#       --cfg-options model.backbone.depth=101 \
#       model.backbone.init_cfg.checkpoint=torchvision://resnet101 \
#       --work-dir work_dirs/dino-4scale_r101_8xb2-12e_coco
# and point teacher_ckpt at its last checkpoint.
_base_ = 'mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py'

model_cfg = 'mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py'
teacher_ckpt = 'work_dirs/dino-4scale_r101_8xb2-12e_coco/epoch_12.pth'
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='SingleTeacherDistill',
    architecture=dict(
        cfg_path=model_cfg, pretrained=False,
        backbone=dict(frozen_stages=-1),
        neck=dict(init_cfg=dict(type='Pretrained', checkpoint=teacher_ckpt, prefix='neck.')),
        encoder=dict(init_cfg=dict(type='Pretrained', checkpoint=teacher_ckpt,
                                   prefix='encoder.')),
        decoder=dict(init_cfg=dict(type='Pretrained', checkpoint=teacher_ckpt,
                                   prefix='decoder.')),
        bbox_head=dict(init_cfg=dict(type='Pretrained', checkpoint=teacher_ckpt,
                                     prefix='bbox_head.'))),
    teacher=dict(
        cfg_path=model_cfg, pretrained=False,
        backbone=dict(depth=101,
                      init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101'))),
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(neck=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(neck=dict(type='ModuleOutputs', source='neck')),
        distill_losses={
            f'loss_cankd_neck{i}': dict(type='CanKDLoss', in_channels=256, loss_weight=10)
            for i in range(3)
        },
        loss_forward_mappings={
            f'loss_cankd_neck{i}': dict(
                s_feature=dict(from_student=True, recorder='neck', data_idx=i),
                t_feature=dict(from_student=False, recorder='neck', data_idx=i))
            for i in range(3)
        }))
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
