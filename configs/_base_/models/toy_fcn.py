# FCN for the toy scenes (128x64 in the quickstart): dilated ResNetV1c-18
# (output stride 8, no ImageNet weights), FCN head on layer4. `base_channels`
# sets the width: 64 is the standard ResNet-18 (layer4 has 8 x base_channels).
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
                           seg_pad_val=255, size_divisor=8),
    backbone=dict(type='ResNetV1c', depth=18, base_channels=64, stem_channels=64,
                  num_stages=4, out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4),
                  strides=(1, 2, 1, 1), norm_cfg=norm_cfg, norm_eval=False, style='pytorch',
                  contract_dilation=True, init_cfg=None),
    decode_head=dict(type='FCNHead', in_channels=512, in_index=3, channels=128, num_convs=1,
                     concat_input=False, dropout_ratio=0.1, num_classes=8, norm_cfg=norm_cfg,
                     align_corners=False,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                                      loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
