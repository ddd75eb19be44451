# CanKD-dagger: as cankd_retinanet_r101-r50, but the student's neck and head
# start from the teacher checkpoint's weights (the backbone from ImageNet as
# usual). The official CanKD README reports 39.8 box AP for it.
_base_ = './cankd_retinanet_r101-r50_fpn_2xb2-2x_coco.py'

teacher_ckpt = {{_base_.teacher_ckpt}}
model = dict(architecture=dict(
    neck=dict(init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=teacher_ckpt,
                            prefix='neck.')),
    bbox_head=dict(init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=teacher_ckpt,
                                 prefix='bbox_head.'))))
