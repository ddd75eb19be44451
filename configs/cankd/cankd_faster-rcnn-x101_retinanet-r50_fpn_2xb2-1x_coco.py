# CanKD across detector families: Faster R-CNN X-101-32x4d 1x (41.2) ->
# RetinaNet R-50 (36.5 at 1x), COCO 1x. The two FPNs start at different
# levels: Faster R-CNN's gives P2..P6 (strides 4..64), RetinaNet's P3..P7
# (strides 8..128). CanKD pairs levels of the same stride: student P3..P6
# (outputs 0..3) with teacher P3..P6 (outputs 1..4).
#
# The official nlkdIN_fpn_faster-rcnn_x101_retina_r50_1x_coco.py
# (tori-hotaru/CanKD@f951e3a) pairs output i with output i, i.e. student P3
# with teacher P2: features of different sizes, which its loss cannot take
# (see docs/migration.md); its teacher_ckpt is an openxlab page, not a
# checkpoint file. Here: mmdet's checkpoint of the same config. The official
# README publishes no number for this pair.
_base_ = '../_base_/cankd_det_2xb2-2x_coco.py'

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/faster_rcnn_x101_32x4d_fpn_1x_coco/faster_rcnn_x101_32x4d_fpn_1x_coco_20200203-cff10310.pth'  # noqa: E501
model = dict(
    architecture=dict(cfg_path='mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
                      pretrained=False),
    teacher=dict(cfg_path='mmdet::faster_rcnn/faster-rcnn_x101-32x4d_fpn_1x_coco.py',
                 pretrained=False),
    teacher_ckpt=teacher_ckpt,
    distiller=dict(loss_forward_mappings={
        f'loss_cankd_fpn{i}': dict(
            s_feature=dict(from_student=True, recorder='fpn', data_idx=i),
            t_feature=dict(from_student=False, recorder='fpn', data_idx=i + 1))
        for i in range(4)
    }))

# 1x schedule (mmdet's schedule_1x), as the official config.
train_cfg = dict(max_epochs=12)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1)
]
