# CrossKD + PKD, GFL R-101 ms-2x -> GFL R-50 1x, COCO 1x: published 43.9 box
# AP (CrossKD README; not reproduced here).
# Settings: the official configs/crosskd+pkd/crosskd+pkd_r50_gflv1_r101-2x-ms_fpn_1x_coco.py:
# as ./crosskd_gfl_r101-r50_fpn_1x_coco.py but LD weight 4 and no GIoU box
# term (that config has none), plus PKDLoss weight 6 on each of the 5 FPN
# levels (the official loss_feat_kd runs on every level).
_base_ = './crosskd_gfl_r101-r50_fpn_1x_coco.py'

model = dict(
    distiller=dict(
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        # the base's cls / LD terms (LD at weight 4), without its GIoU term
        distill_losses=dict(
            _delete_=True,
            loss_cls_kd=_base_.model.distiller.distill_losses.loss_cls_kd,
            loss_reg_kd=dict(_base_.model.distiller.distill_losses.loss_reg_kd, loss_weight=4.0),
            **{f'loss_pkd_fpn{i}': dict(type='PKDLoss', loss_weight=6) for i in range(5)}),
        loss_forward_mappings=dict(
            _delete_=True,
            loss_cls_kd=_base_.model.distiller.loss_forward_mappings.loss_cls_kd,
            loss_reg_kd=_base_.model.distiller.loss_forward_mappings.loss_reg_kd,
            **{
                f'loss_pkd_fpn{i}': dict(
                    preds_S=dict(from_student=True, recorder='fpn', data_idx=i),
                    preds_T=dict(from_student=False, recorder='fpn', data_idx=i))
                for i in range(5)
            })))
