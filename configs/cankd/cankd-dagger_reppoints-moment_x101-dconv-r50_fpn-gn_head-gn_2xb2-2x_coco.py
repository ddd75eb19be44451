# CanKD-dagger: as cankd_reppoints-moment_x101-dconv-r50, but the student's
# neck and head start from the teacher checkpoint's weights (the backbone
# from ImageNet as usual), as the official
# nlkdIN_dagger_reppoints_x101_reppoints_r50_2x_coco.py (tori-hotaru/CanKD@f951e3a).
# The official CanKD README reports 42.6 box AP for it.
_base_ = './cankd_reppoints-moment_x101-dconv-r50_fpn-gn_head-gn_2xb2-2x_coco.py'

teacher_ckpt = {{_base_.teacher_ckpt}}
model = dict(architecture=dict(
    neck=dict(init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=teacher_ckpt,
                            prefix='neck.')),
    bbox_head=dict(init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=teacher_ckpt,
                                 prefix='bbox_head.'))))
