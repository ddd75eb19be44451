# Student on the toy scenes: the same FCN on a ResNet-18 at 1/8 width
# (base_channels 8, layer4 with 64 channels; ~0.19M parameters).
_base_ = './fcn_r18_toy-cityscapes.py'

model = dict(
    backbone=dict(base_channels=8, stem_channels=8),
    decode_head=dict(in_channels=64, channels=32))
