# Student on the toy data for head distillation: the 1/4-width ResNet-18 of
# retinanet_r18-w16_toy-coco.py with the teacher's 64-channel FPN and head.
# CrossKD runs the student's head features through the teacher's head (no
# connector), so head-distillation pairs need the same head width; the
# feature-vs-head comparison (tools/analysis_tools/compare_distill.py, docs/
# head_and_multi_teacher.md) uses this student for every row.
_base_ = './retinanet_r18-w16_toy-coco.py'

model = dict(
    neck=dict(out_channels=64),
    bbox_head=dict(in_channels=64, feat_channels=64))
