# CanKD-dagger: as cankd_faster-rcnn_r101-r50, but the student's neck, RPN and
# RoI heads start from the teacher checkpoint's weights (the backbone from
# ImageNet as usual). The official CanKD README reports 40.7 box AP for it.
_base_ = './cankd_faster-rcnn_r101-r50_fpn_2xb2-2x_coco.py'

teacher_ckpt = {{_base_.teacher_ckpt}}
model = dict(architecture=dict(
    neck=dict(init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=teacher_ckpt,
                            prefix='neck.')),
    rpn_head=dict(init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=teacher_ckpt,
                                prefix='rpn_head.')),
    roi_head=dict(init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=teacher_ckpt,
                                prefix='roi_head.'))))
