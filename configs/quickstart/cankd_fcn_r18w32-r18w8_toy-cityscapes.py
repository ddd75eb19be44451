# CanKD on the toy scenes: teacher fcn_r18_toy-cityscapes -> student
# fcn_r18-w8_toy-cityscapes on backbone layer4, the student's 64 channels
# lifted to the teacher's 256 by a 1x1 conv + BN (as MobileNetV2 -> ResNet-101
# in the Cityscapes configs). tools/quickstart.py trains the teacher first.
_base_ = './fcn_r18-w8_toy-cityscapes.py'

teacher_ckpt = 'work_dirs/quickstart/seg/teacher/iter_600.pth'
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='SingleTeacherDistill',
    architecture=dict(cfg_path='configs/quickstart/fcn_r18-w8_toy-cityscapes.py'),
    teacher=dict(cfg_path='configs/quickstart/fcn_r18_toy-cityscapes.py'),
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(bb=dict(type='ModuleOutputs', source='backbone.layer4')),
        teacher_recorders=dict(bb=dict(type='ModuleOutputs', source='backbone.layer4')),
        connectors=dict(lift=dict(type='ConvModuleConnector', in_channel=64, out_channel=256,
                                  norm_cfg=dict(type='BN'), act_cfg=None)),
        distill_losses=dict(loss_cankd=dict(type='CanKDLoss', in_channels=256, loss_weight=10)),
        loss_forward_mappings=dict(loss_cankd=dict(
            s_feature=dict(from_student=True, recorder='bb', connector='lift'),
            t_feature=dict(from_student=False, recorder='bb')))))
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
