# CanKD, RepPoints (moment) X-101-32x4d with DCN in c3-c5 (44.2; the official
# README calls it "RepPoints-R101 (44.2)") -> RepPoints R-50 (38.6), GN neck
# and head: published 42.4 box AP. Follows the official
# nlkdIN_reppoints_x101_reppoints_r50_2x_coco.py (tori-hotaru/CanKD@f951e3a).
_base_ = '../_base_/cankd_det_2xb2-2x_coco.py'

teacher_ckpt = 'https://download.openmmlab.com/mmdetection/v2.0/reppoints/reppoints_moment_x101_fpn_dconv_c3-c5_gn-neck%2Bhead_2x_coco/reppoints_moment_x101_fpn_dconv_c3-c5_gn-neck%2Bhead_2x_coco_20200329-f87da1ea.pth'  # noqa: E501
model = dict(
    architecture=dict(
        cfg_path='mmdet::reppoints/reppoints-moment_r50_fpn-gn_head-gn_2x_coco.py',
        pretrained=False),
    teacher=dict(
        cfg_path='mmdet::reppoints/reppoints-moment_x101-dconv-c3-c5_fpn-gn_head-gn_2x_coco.py',
        pretrained=False),
    teacher_ckpt=teacher_ckpt)
