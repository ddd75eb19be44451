# CanKD-dagger: as cankd_cascade-mask-rcnn-x101_faster-rcnn-r50, but the
# student's neck starts from the teacher's neck and its RoI box head from the
# teacher's first cascade stage (roi_head.bbox_head.0), as the official
# nlkdIN_dagger_fpn_cmrcnn_x101_frcnn_r50_2x_coco.py (tori-hotaru/CanKD@f951e3a).
# The cascade stage
# regresses class-agnostic boxes (4 outputs) where Faster R-CNN's head
# regresses 80 x 4: that one tensor (fc_reg) does not fit and keeps its own
# initialisation (mmengine warns about it). The official CanKD README
# reports 42.5 box AP for it.
_base_ = './cankd_cascade-mask-rcnn-x101_faster-rcnn-r50_fpn_2xb2-2x_coco.py'

teacher_ckpt = {{_base_.teacher_ckpt}}
model = dict(architecture=dict(
    neck=dict(init_cfg=dict(_delete_=True, type='Pretrained', checkpoint=teacher_ckpt,
                            prefix='neck.')),
    roi_head=dict(bbox_head=dict(init_cfg=dict(
        _delete_=True, type='Pretrained', checkpoint=teacher_ckpt,
        prefix='roi_head.bbox_head.0.')))))
