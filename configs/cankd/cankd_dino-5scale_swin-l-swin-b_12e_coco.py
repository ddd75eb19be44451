# CanKD on DINO with Swin backbones: DINO-5scale Swin-L 36e (58.4) ->
# DINO-5scale Swin-B (ImageNet-22k, 384), COCO 12 epochs, 1 image per GPU.
# CanKD on the first four of the five ChannelMapper outputs (256 channels,
# strides 8..64). As the official nlkdIN_dino-swinL_dino_swinb_12e_coco.py
# (tori-hotaru/CanKD@f951e3a): the student's transformer encoder, decoder and
# head start from the teacher's weights (its backbone from the Swin-B
# ImageNet-22k checkpoint, its neck from scratch). The student is mmdet's
# Swin-L DINO with a Swin-B backbone. The official README publishes no
# number for this pair.
_base_ = 'mmdet::dino/dino-5scale_swin-l_8xb2-12e_coco.py'

swin_b = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_base_patch4_window12_384_22k.pth'  # noqa: E501
teacher_ckpt = 'https://github.com/RistoranteRist/mmlab-weights/releases/download/dino-swinl/dino-5scale_swin-l_8xb2-36e_coco-5486e051.pth'  # noqa: E501
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='SingleTeacherDistill',
    architecture=dict(
        cfg_path='mmdet::dino/dino-5scale_swin-l_8xb2-12e_coco.py', pretrained=False,
        backbone=dict(embed_dims=128, num_heads=[4, 8, 16, 32], drop_path_rate=0.3,
                      init_cfg=dict(type='Pretrained', checkpoint=swin_b)),
        neck=dict(in_channels=[128, 256, 512, 1024]),
        encoder=dict(init_cfg=dict(type='Pretrained', checkpoint=teacher_ckpt,
                                   prefix='encoder.')),
        decoder=dict(init_cfg=dict(type='Pretrained', checkpoint=teacher_ckpt,
                                   prefix='decoder.')),
        bbox_head=dict(init_cfg=dict(type='Pretrained', checkpoint=teacher_ckpt,
                                     prefix='bbox_head.'))),
    teacher=dict(cfg_path='mmdet::dino/dino-5scale_swin-l_8xb2-36e_coco.py',
                 pretrained=False),
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(neck=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(neck=dict(type='ModuleOutputs', source='neck')),
        distill_losses={
            f'loss_cankd_neck{i}': dict(type='CanKDLoss', in_channels=256, loss_weight=10)
            for i in range(4)
        },
        loss_forward_mappings={
            f'loss_cankd_neck{i}': dict(
                s_feature=dict(from_student=True, recorder='neck', data_idx=i),
                t_feature=dict(from_student=False, recorder='neck', data_idx=i))
            for i in range(4)
        }))
train_dataloader = dict(batch_size=1, num_workers=2)
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
