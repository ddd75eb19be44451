# Teacher on the toy scenes: FCN on a dilated ResNet-18 at half width
# (base_channels 32, layer4 with 256 channels; ~2.9M parameters), sized so
# the whole quickstart fits in minutes on a 2-core CPU.
_base_ = [
    '../_base_/models/toy_fcn.py', '../_base_/datasets/toy_cityscapes.py',
    '../_base_/schedules/toy_seg_schedule.py', '../_base_/toy_seg_runtime.py'
]

model = dict(
    backbone=dict(base_channels=32, stem_channels=32),
    decode_head=dict(in_channels=256, channels=64))
