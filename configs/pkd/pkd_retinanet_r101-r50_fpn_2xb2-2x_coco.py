# PKD (Pearson correlation, arXiv 2207.02039), RetinaNet R-101 (38.9) ->
# R-50 (37.4), 2x. Same pair, data, schedule and optimiser as
# ../cankd/cankd_retinanet_r101-r50_fpn_2xb2-2x_coco.py; only the distiller differs.
# Settings: mmrazor configs/distill/mmdet/pkd/pkd_fpn_frcnn_r101_frcnn_r50_2x_coco.py
# and pkd_fpn_mask_rcnn_swin_retina_r50_2x_coco.py (RetinaNet student):
# PKDLoss loss_weight 6, one loss per FPN level 0..3 (P3-P6; mmrazor leaves P7
# out). mmrazor's RetinaNet-X101 teacher config (pkd_fpn_retina_x101_retina_r50_2x_coco.py,
# 40.8 AP) raises the weight to 10.
_base_ = '../cankd/cankd_retinanet_r101-r50_fpn_2xb2-2x_coco.py'

model = dict(
    distiller=dict(
        _delete_=True,
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        distill_losses={
            f'loss_pkd_fpn{i}': dict(type='PKDLoss', loss_weight=6) for i in range(4)
        },
        loss_forward_mappings={
            f'loss_pkd_fpn{i}': dict(
                preds_S=dict(from_student=True, recorder='fpn', data_idx=i),
                preds_T=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(4)
        }))
