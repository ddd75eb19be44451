# CanKD on Grounding DINO trained from scratch on COCO: R-101 teacher (50.0,
# trained by the CanKD authors) -> R-50 (48.9), 12 epochs with the student's
# own mmdet recipe: published 49.8 box AP. CanKD on the first three of the
# four ChannelMapper outputs (256 channels, strides 8..32). As the official
# nlkd_ggdino-r101_ggdino-r50_1x_coco.py (tori-hotaru/CanKD@f951e3a): the
# student's head starts from the teacher's.
#
# The teacher runs its backbone and neck only (FpnTeacherDistill: all CanKD
# reads), where the official config runs it whole (SingleTeacherDistill):
# the recorded features are the same, and mmdet 3.3's GroundingDINO cannot
# run its mode='tensor' forward (DetectionTransformer._forward passes the data
# samples where GroundingDINO.forward_transformer takes the text features).
#
# The official config's teacher, mmdet::grounding_dino/
# grounding_dino_r101_scratch_1x_coco.py, is not a config mmdet ships (3.1 to
# 3.3): here the teacher is mmdet's R-50 scratch config with a ResNet-101.
# No Grounding DINO R-101 checkpoint is published: train the teacher first,
# e.g.
#   python tools/train.py mmdet::grounding_dino/grounding_dino_r50_scratch_8xb2_1x_coco.py \
#       --cfg-options model.backbone.depth=101 \
#       model.backbone.init_cfg.checkpoint=torchvision://resnet101 \
#       --work-dir work_dirs/grounding_dino_r101_scratch_8xb2_1x_coco
#
# Needs the optional extra `pip install -e .[grounding]` (transformers, for
# the BERT text encoder, whose 'bert-base-uncased' weights are downloaded
# from the Hugging Face hub on first use; fairscale, for the activation
# checkpointing of mmdet's encoder, num_cp=6): see docs/get_started.md.
_base_ = 'mmdet::grounding_dino/grounding_dino_r50_scratch_8xb2_1x_coco.py'

model_cfg = 'mmdet::grounding_dino/grounding_dino_r50_scratch_8xb2_1x_coco.py'
teacher_ckpt = 'work_dirs/grounding_dino_r101_scratch_8xb2_1x_coco/epoch_12.pth'
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='FpnTeacherDistill',
    architecture=dict(
        cfg_path=model_cfg, pretrained=False,
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
