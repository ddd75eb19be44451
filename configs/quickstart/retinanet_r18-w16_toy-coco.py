# Student on the toy data: the same RetinaNet with a ResNet-18 4x narrower
# (base_channels 16, about 1/16 of the backbone's parameters). Its FPN keeps
# 64 channels so CanKD compares it with the teacher's FPN level by level.
_base_ = './retinanet_r18_toy-coco.py'

model = dict(
    backbone=dict(base_channels=16),
    neck=dict(in_channels=[32, 64, 128]))
