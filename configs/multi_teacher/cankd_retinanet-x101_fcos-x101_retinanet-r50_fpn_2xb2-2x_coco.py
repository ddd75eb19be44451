# CanKD with two teachers at once, as the CanKD paper's teachers for a RetinaNet
# R-50 student (37.4): RetinaNet X-101-64x4d (41.0) and FCOS X-101-64x4d (42.6).
# No published number exists for this two-teacher setting (the paper distils
# from one teacher at a time: 41.0 from RetinaNet X-101); untuned choices:
#   * one CanKDLoss per teacher and FPN level P3..P6 (loss_weight 10 as
#     published for one teacher), each teacher's losses scaled by its
#     loss_weight 0.5, so the total distill weight equals one teacher's;
#   * both teachers run backbone + neck only (fpn_only=True), each on the same
#     batch, renormalised for its own data preprocessor.
# Data, schedule and optimiser as ../cankd/cankd_retinanet_x101-r50_fpn_2xb2-2x_coco.py.
_base_ = '../_base_/cankd_det_2xb2-2x_coco.py'

retina_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/retinanet/retinanet_x101_64x4d_fpn_1x_coco/retinanet_x101_64x4d_fpn_1x_coco_20200130-366f5af1.pth'  # noqa: E501
fcos_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/fcos/fcos_x101_64x4d_fpn_gn-head_mstrain_640-800_2x_coco/fcos_x101_64x4d_fpn_gn-head_mstrain_640-800_2x_coco-ede514a8.pth'  # noqa: E501
teacher_names = ('retina', 'fcos')
levels = 4

model = dict(
    _delete_=True,
    _scope_='cankd',
    type='MultiTeacherDistill',
    architecture=dict(cfg_path='mmdet::retinanet/retinanet_r50_fpn_2x_coco.py',
                      pretrained=False),
    teachers=dict(
        retina=dict(
            model=dict(cfg_path='mmdet::retinanet/retinanet_x101-64x4d_fpn_1x_coco.py',
                       pretrained=False),
            ckpt=retina_ckpt, fpn_only=True, loss_weight=0.5),
        fcos=dict(
            model=dict(
                cfg_path='mmdet::fcos/fcos_x101-64x4d_fpn_gn-head_ms-640-800-2x_coco.py',
                pretrained=False),
            ckpt=fcos_ckpt, fpn_only=True, loss_weight=0.5)),
    distiller=dict(
        type='MultiTeacherDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders={t: dict(fpn=dict(type='ModuleOutputs', source='neck'))
                           for t in teacher_names},
        distill_losses={
            f'loss_cankd_{t}_fpn{i}': dict(type='CanKDLoss', in_channels=256, loss_weight=10)
            for t in teacher_names for i in range(levels)
        },
        loss_forward_mappings={
            f'loss_cankd_{t}_fpn{i}': dict(
                s_feature=dict(from_student=True, recorder='fpn', data_idx=i),
                t_feature=dict(from_student=False, teacher=t, recorder='fpn', data_idx=i))
            for t in teacher_names for i in range(levels)
        }))
