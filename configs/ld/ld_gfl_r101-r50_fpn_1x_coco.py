# LD (Localization Distillation, arXiv 2102.12252, CVPR 2022), GFL R-101
# ms-2x (44.7) -> GFL R-50 1x (40.2), COCO 1x: published 41.0 box AP (mmdet's
# configs/ld/metafile.yml, ld_r50-gflv1-r101_fpn_1x_coco; not reproduced here).
# Settings: mmdet's configs/ld/ld_r50-gflv1-r101_fpn_1x_coco.py, whose LDHead
# adds to GFL's own losses a KL divergence (T 10, mean over the 17 bins,
# weight 0.25) between the teacher's and the student's box-side
# distributions at the student's positive locations, each weighted by the
# student's top class score. Here the student is a plain GFL and the LD term
# is a distill loss on recorded head outputs (GFLHead.forward: 0 = cls
# scores, 1 = distributions; GFLHead.get_targets: 1 = labels). 8 GPUs x 2,
# SGD lr 0.01, mmdet's 1x schedule and COCO pipeline.
_base_ = 'mmdet::gfl/gfl_r50_fpn_1x_coco.py'

HEAD = 'mmdet.models.dense_heads.gfl_head.GFLHead.forward'
TARGETS = 'mmdet.models.dense_heads.gfl_head.GFLHead.get_targets'

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/gfl/gfl_r101_fpn_mstrain_2x_coco/gfl_r101_fpn_mstrain_2x_coco_20200629_200126-dd12f847.pth'  # noqa: E501
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='SingleTeacherDistill',
    architecture=dict(cfg_path='mmdet::gfl/gfl_r50_fpn_1x_coco.py', pretrained=False),
    teacher=dict(cfg_path='mmdet::gfl/gfl_r101_fpn_ms-2x_coco.py', pretrained=False),
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(
            head=dict(type='MethodOutputs', source=HEAD),
            targets=dict(type='MethodOutputs', source=TARGETS)),
        teacher_recorders=dict(head=dict(type='MethodOutputs', source=HEAD)),
        distill_losses=dict(
            loss_ld=dict(type='LocalizationDistillLoss', reg_max=16, T=10,
                         bin_reduction='mean', normalize='none', loss_weight=0.25)),
        loss_forward_mappings=dict(
            loss_ld=dict(
                preds_S=dict(from_student=True, recorder='head', data_idx=1),
                preds_T=dict(from_student=False, recorder='head', data_idx=1),
                scores=dict(from_student=True, recorder='head', data_idx=0),
                labels=dict(from_student=True, recorder='targets', data_idx=1)))))

train_dataloader = dict(batch_size=2)
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
