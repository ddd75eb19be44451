# MGD (alpha_mgd 2e-5, lambda_mgd 0.65) on the toy data: teacher retinanet_r18_toy-coco ->
# student retinanet_r18-w16_toy-coco. Settings of
# ../mgd/mgd_retinanet_r101-r50_fpn_2xb2-2x_coco.py (see its header for their sources), here on
# 3 FPN levels (MGD's generator maps the student's 32 channels to the teacher's 64). Train the
# teacher first (tools/quickstart.py) and point teacher_ckpt at it, as for
# cankd_retinanet_r18-r18w16_toy-coco.py.
_base_ = './cankd_retinanet_r18-r18w16_toy-coco.py'

model = dict(
    distiller=dict(
        _delete_=True,
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        connectors={
            f's_fpn{i}_mgd': dict(type='MGDConnector', student_channels=32,
                                  teacher_channels=64, lambda_mgd=0.65)
            for i in range(3)
        },
        distill_losses={
            f'loss_mgd_fpn{i}': dict(type='MGDLoss', alpha_mgd=0.00002) for i in range(3)
        },
        loss_forward_mappings={
            f'loss_mgd_fpn{i}': dict(
                preds_S=dict(from_student=True, recorder='fpn', data_idx=i,
                             connector=f's_fpn{i}_mgd'),
                preds_T=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(3)
        }))
