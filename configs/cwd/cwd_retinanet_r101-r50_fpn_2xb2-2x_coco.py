# CWD (channel-wise distillation, arXiv 2011.13256), RetinaNet R-101 (38.9)
# -> R-50 (37.4), 2x. Same pair, data, schedule and optimiser as
# ../cankd/cankd_retinanet_r101-r50_fpn_2xb2-2x_coco.py; only the distiller differs.
# Settings: mmrazor configs/distill/mmdet/cwd/cwd_fpn_retina_r101_retina_r50_1x_coco.py
# (via its base cwd_fpn_frcnn_r101_frcnn_r50_1x_coco.py): ChannelWiseDivergence
# tau 1, loss_weight 10, one loss per FPN level P3-P7 (256 ch). mmrazor trains
# it 1x; here it gets the 2x schedule of the CanKD configs.
_base_ = '../cankd/cankd_retinanet_r101-r50_fpn_2xb2-2x_coco.py'

model = dict(
    distiller=dict(
        _delete_=True,
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        distill_losses={
            f'loss_cwd_fpn{i}': dict(type='ChannelWiseDivergence', tau=1, loss_weight=10)
            for i in range(5)
        },
        loss_forward_mappings={
            f'loss_cwd_fpn{i}': dict(
                preds_S=dict(from_student=True, recorder='fpn', data_idx=i),
                preds_T=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(5)
        }))
