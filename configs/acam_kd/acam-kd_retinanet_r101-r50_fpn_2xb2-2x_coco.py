# ACAM-KD (adaptive and cooperative attention masking, arXiv 2503.06307),
# RetinaNet R-101 (38.9) -> R-50 (37.4), 2x. Same pair, data, schedule and
# optimiser as ../cankd/cankd_retinanet_r101-r50_fpn_2xb2-2x_coco.py; only the
# distiller differs. No official code or config is public: the paper's
# settings (alpha = lambda = 1, M = 6 masks for detection), read through
# third-party summaries, see docs/methods.md. One ACAMKDLoss (own attention
# and mask parameters) per FPN level P3-P7, 256 ch.
# Published for this pair: 41.2 box AP (paper, Table 1).
_base_ = '../cankd/cankd_retinanet_r101-r50_fpn_2xb2-2x_coco.py'

model = dict(
    distiller=dict(
        _delete_=True,
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        distill_losses={
            f'loss_acam_fpn{i}': dict(type='ACAMKDLoss', student_channels=256, num_masks=6,
                                      loss_weight=1.0, div_weight=1.0)
            for i in range(5)
        },
        loss_forward_mappings={
            f'loss_acam_fpn{i}': dict(
                preds_S=dict(from_student=True, recorder='fpn', data_idx=i),
                preds_T=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(5)
        }))
