# CanKD with two teachers at once: DeepLabV3 R-101 (80.20 model zoo) and
# PSPNet R-101 (79.76) -> DeepLabV3 R-18 (76.70). No published number exists
# for this two-teacher setting (the paper distils from one teacher at a time:
# 77.12 from DeepLabV3 R-101). Untuned choices: one CanKDLoss on the last
# backbone stage per teacher, with the single-teacher weights of each pair
# (10 for DeepLabV3 R-101, 20 for PSPNet R-101), each teacher's loss scaled by
# its loss_weight 0.5; R-18's layer4 (512 ch) lifted to 2048 ch by a 1x1 conv
# per teacher. Both teachers run backbone only (fpn_only=True: extract_feat,
# enough for layer4). Data, schedule and optimiser as the single-teacher configs.
_base_ = '../_base_/cankd_seg_4xb2-80k_cityscapes-512x1024.py'

dlv3_ckpt = 'https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3/deeplabv3_r101-d8_512x1024_80k_cityscapes/deeplabv3_r101-d8_512x1024_80k_cityscapes_20200606_113503-9e428899.pth'  # noqa: E501
psp_ckpt = 'https://download.openmmlab.com/mmsegmentation/v0.5/pspnet/pspnet_r101-d8_512x1024_80k_cityscapes/pspnet_r101-d8_512x1024_80k_cityscapes_20200606_112211-e1e1100f.pth'  # noqa: E501
cankd_loss_weights = dict(dlv3=10, psp=20)

model = dict(
    _delete_=True,
    _scope_='cankd',
    type='MultiTeacherDistill',
    architecture=dict(
        cfg_path='mmseg::deeplabv3/deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py',
        pretrained=False),
    teachers=dict(
        dlv3=dict(
            model=dict(
                cfg_path='mmseg::deeplabv3/deeplabv3_r101-d8_4xb2-80k_cityscapes-512x1024.py',
                pretrained=False),
            ckpt=dlv3_ckpt, fpn_only=True, loss_weight=0.5),
        psp=dict(
            model=dict(
                cfg_path='mmseg::pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py',
                pretrained=False),
            ckpt=psp_ckpt, fpn_only=True, loss_weight=0.5)),
    distiller=dict(
        type='MultiTeacherDistiller',
        student_recorders=dict(bb=dict(type='ModuleOutputs', source='backbone.layer4')),
        teacher_recorders={t: dict(bb=dict(type='ModuleOutputs', source='backbone.layer4'))
                           for t in cankd_loss_weights},
        connectors={
            f'lift_{t}': dict(type='ConvModuleConnector', in_channel=512, out_channel=2048,
                              norm_cfg=dict(type='BN'), act_cfg=None)
            for t in cankd_loss_weights
        },
        distill_losses={
            f'loss_cankd_{t}': dict(type='CanKDLoss', in_channels=2048, loss_weight=w)
            for t, w in cankd_loss_weights.items()
        },
        loss_forward_mappings={
            f'loss_cankd_{t}': dict(
                s_feature=dict(from_student=True, recorder='bb', connector=f'lift_{t}'),
                t_feature=dict(from_student=False, teacher=t, recorder='bb'))
            for t in cankd_loss_weights
        }))
