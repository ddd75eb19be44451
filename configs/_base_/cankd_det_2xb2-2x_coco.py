# Shared setup of the CanKD detection configs (COCO, 2x schedule), as published:
# 2 GPUs x 2 images, SGD lr 0.005 (linear scaling from 0.02 @ 16 images),
# gradient clipping 35, CanKD on FPN outputs 0..3 (256 ch) with loss_weight 10.
# Leaf configs set `architecture`, `teacher` and `teacher_ckpt`.
_base_ = [
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_2x.py',
    'mmdet::_base_/default_runtime.py',
]

model = dict(
    _scope_='cankd',
    type='FpnTeacherDistill',
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
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.005, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=35, norm_type=2))
# `--auto-scale-lr` rescales lr linearly from 2 GPUs x 2 images.
auto_scale_lr = dict(enable=False, base_batch_size=4)

find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
