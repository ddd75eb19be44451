# CanKD-dagger on a large-scale dataset: RetinaNet R-101 (19.5, trained by the
# CanKD authors) -> RetinaNet R-50 (16.7), Objects365 v2, 1x: published 18.4
# box AP. CanKD on FPN outputs 0..3 (P3..P6), the student's neck and head
# start from the teacher checkpoint's weights. As the official
# nlkdD_fpn_retinanet-r101_retinanet-r50_1x_objects365v2.py
# (tori-hotaru/CanKD@f951e3a): 4 GPUs x 2 images, SGD lr 0.01, 10000
# warm-up iterations, gradient clipping 35 (mmdet's Objects365 recipe).
#
# No RetinaNet R-101 Objects365 checkpoint is published: train the teacher
# first, e.g.
#   python tools/train.py mmdet::objects365/retinanet_r50_fpn_1x_objects365v2.py \
#       --cfg-options model.backbone.depth=101 \
#       model.backbone.init_cfg.checkpoint=torchvision://resnet101 \
#       --work-dir work_dirs/retinanet_r101_fpn_1x_objects365v2
_base_ = 'mmdet::objects365/retinanet_r50_fpn_1x_objects365v2.py'

model_cfg = 'mmdet::objects365/retinanet_r50_fpn_1x_objects365v2.py'
teacher_ckpt = 'work_dirs/retinanet_r101_fpn_1x_objects365v2/epoch_12.pth'
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='FpnTeacherDistill',
    architecture=dict(
        cfg_path=model_cfg, pretrained=False,
        neck=dict(init_cfg=dict(type='Pretrained', checkpoint=teacher_ckpt, prefix='neck.')),
        bbox_head=dict(init_cfg=dict(type='Pretrained', checkpoint=teacher_ckpt,
                                     prefix='bbox_head.'))),
    teacher=dict(
        cfg_path=model_cfg, pretrained=False,
        backbone=dict(depth=101,
                      init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101'))),
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        distill_losses={
            f'loss_cankd_fpn{i}': dict(type='CanKDLoss', in_channels=256, loss_weight=10)
            for i in range(4)
        },
        loss_forward_mappings={
            f'loss_cankd_fpn{i}': dict(
                s_feature=dict(from_student=True, recorder='fpn', data_idx=i),
                t_feature=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(4)
        }))
train_dataloader = dict(batch_size=2, num_workers=2)
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
