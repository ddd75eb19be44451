# Shared setup of the CanKD segmentation configs (Cityscapes, 512x1024 crops,
# 80k iterations, 4 GPUs x 2 images as mmseg's own schedules): CanKD on the
# last backbone stage, teacher ResNet-101 layer4 (2048 ch). Leaf configs set
# `architecture`, `teacher`, `teacher_ckpt` and, where the student's stage
# is narrower, a connector.
_base_ = [
    'mmseg::_base_/datasets/cityscapes.py',
    'mmseg::_base_/schedules/schedule_80k.py',
    'mmseg::_base_/default_runtime.py',
]

model = dict(
    _scope_='cankd',
    type='SingleTeacherDistill',
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(bb=dict(type='ModuleOutputs', source='backbone.layer4')),
        teacher_recorders=dict(bb=dict(type='ModuleOutputs', source='backbone.layer4')),
        distill_losses=dict(
            loss_cankd=dict(type='CanKDLoss', in_channels=2048, loss_weight=10)),
        loss_forward_mappings=dict(
            loss_cankd=dict(
                s_feature=dict(from_student=True, recorder='bb'),
                t_feature=dict(from_student=False, recorder='bb')))))

train_dataloader = dict(batch_size=2, num_workers=2)
# mmseg's schedule is tuned for 4 GPUs x 2 images.
auto_scale_lr = dict(enable=False, base_batch_size=8)

find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
