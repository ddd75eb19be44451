# CanKD on the toy data: teacher retinanet_r18_toy-coco -> student
# retinanet_r18-w16_toy-coco, on the 3 FPN levels: the student's 32 channels
# lifted to the teacher's 64 by a 1x1 conv + BN per level. Train the teacher
# first (tools/quickstart.py does all of it) and point teacher_ckpt at it:
#   python tools/train.py configs/quickstart/cankd_retinanet_r18-r18w16_toy-coco.py \
#       --cfg-options model.teacher_ckpt=work_dirs/retinanet_r18_toy-coco/iter_1500.pth
_base_ = './retinanet_r18-w16_toy-coco.py'

teacher_ckpt = 'work_dirs/quickstart/det/teacher/iter_1500.pth'
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='FpnTeacherDistill',
    architecture=dict(cfg_path='configs/quickstart/retinanet_r18-w16_toy-coco.py'),
    teacher=dict(cfg_path='configs/quickstart/retinanet_r18_toy-coco.py'),
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        connectors={
            f's_fpn{i}': dict(type='ConvModuleConnector', in_channel=32, out_channel=64,
                              norm_cfg=dict(type='BN'), act_cfg=None)
            for i in range(3)
        },
        distill_losses={
            f'loss_cankd_fpn{i}': dict(type='CanKDLoss', in_channels=64, loss_weight=10)
            for i in range(3)
        },
        loss_forward_mappings={
            f'loss_cankd_fpn{i}': dict(
                s_feature=dict(from_student=True, recorder='fpn', data_idx=i,
                               connector=f's_fpn{i}'),
                t_feature=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(3)
        }))
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
