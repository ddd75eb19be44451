# MGD (masked generative distillation, arXiv 2205.01529), RetinaNet R-101
# (38.9) -> R-50 (37.4), 2x. Same pair, data, schedule and optimiser as
# ../cankd/cankd_retinanet_r101-r50_fpn_2xb2-2x_coco.py; only the distiller differs.
# Settings: mmrazor configs/distill/mmdet/mgd/mgd_fpn_retina_x101_retina_r50_2x_coco.py
# (= official yzd-v/MGD, file
#   det/configs/distillers/mgd/retina_rx101_64x4d_distill_retina_r50_fpn_2x_coco.py):
# one MGDConnector (random mask, lambda_mgd 0.65, conv-ReLU-conv generator,
# 256 -> 256) and one MGDLoss (alpha_mgd 2e-5) per FPN level P3-P7.
# Both reference configs also start the student's neck and head from the
# teacher checkpoint (41.0 AP with an X101 teacher); to do the same, inherit
# ../cankd/cankd-dagger_retinanet_r101-r50_fpn_2xb2-2x_coco.py instead.
_base_ = '../cankd/cankd_retinanet_r101-r50_fpn_2xb2-2x_coco.py'

model = dict(
    distiller=dict(
        _delete_=True,
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        connectors={
            f's_fpn{i}_mgd': dict(type='MGDConnector', student_channels=256,
                                  teacher_channels=256, lambda_mgd=0.65)
            for i in range(5)
        },
        distill_losses={
            f'loss_mgd_fpn{i}': dict(type='MGDLoss', alpha_mgd=0.00002) for i in range(5)
        },
        loss_forward_mappings={
            f'loss_mgd_fpn{i}': dict(
                preds_S=dict(from_student=True, recorder='fpn', data_idx=i,
                             connector=f's_fpn{i}_mgd'),
                preds_T=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(5)
        }))
