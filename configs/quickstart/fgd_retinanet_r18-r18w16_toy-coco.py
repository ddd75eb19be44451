# FGD (official RetinaNet hyper-parameters) on the toy data: teacher retinanet_r18_toy-coco ->
# student retinanet_r18-w16_toy-coco. Settings of
# ../fgd/fgd_retinanet_r101-r50_fpn_2xb2-2x_coco.py (see its header for their sources), here on
# 3 FPN levels (FGD's 1x1 align conv maps the student's 32 channels to the teacher's 64). Train
# the teacher first (tools/quickstart.py) and point teacher_ckpt at it, as for
# cankd_retinanet_r18-r18w16_toy-coco.py.
_base_ = './cankd_retinanet_r18-r18w16_toy-coco.py'

model = dict(
    distiller=dict(
        _delete_=True,
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        distill_losses={
            f'loss_fgd_fpn{i}': dict(type='FGDLoss', student_channels=32, teacher_channels=64,
                                     temp=0.5, alpha_fgd=0.001, beta_fgd=0.0005,
                                     gamma_fgd=0.0005, lambda_fgd=0.000005)
            for i in range(3)
        },
        loss_forward_mappings={
            f'loss_fgd_fpn{i}': dict(
                preds_S=dict(from_student=True, recorder='fpn', data_idx=i),
                preds_T=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(3)
        }))
