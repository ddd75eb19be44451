# PKD baseline on the pair of ./cankd_rtmdet_l-s_8xb32-300e_coco.py
# (RTMDet-l -> RTMDet-s); same data, schedule, hooks (EMA: see that file) and
# connectors; only the loss differs: PKDLoss per CSPNeXt-PAFPN level, weight 6
# (mmrazor's RetinaNet setting; untuned here, no published number).
_base_ = './cankd_rtmdet_l-s_8xb32-300e_coco.py'

model = dict(
    distiller=dict(
        distill_losses=dict(_delete_=True, **{
            f'loss_pkd_fpn{i}': dict(type='PKDLoss', loss_weight=6) for i in range(3)
        }),
        loss_forward_mappings=dict(_delete_=True, **{
            f'loss_pkd_fpn{i}': dict(
                preds_S=dict(from_student=True, recorder='fpn', data_idx=i,
                             connector=f's_fpn{i}'),
                preds_T=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(3)
        })))
