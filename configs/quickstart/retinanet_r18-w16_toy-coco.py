# Student on the toy data: the same RetinaNet with a ResNet-18 4x narrower
# (base_channels 16, about 1/16 of the backbone's parameters) and a 32-channel
# FPN and head (the teacher's have 64). With the teacher's 64-channel neck and
# head the student trailed the teacher by only 0.009 bbox mAP: most of the
# capacity at this size is there (docs/quickstart.md). The distillation
# configs lift its FPN levels to 64 channels with connectors.
_base_ = './retinanet_r18_toy-coco.py'

model = dict(
    backbone=dict(base_channels=16),
    neck=dict(in_channels=[32, 64, 128], out_channels=32),
    bbox_head=dict(in_channels=32, feat_channels=32))
