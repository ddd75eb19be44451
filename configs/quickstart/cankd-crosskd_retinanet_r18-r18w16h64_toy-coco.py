# CanKD on the FPN + CrossKD on the head, on the toy data: the CrossKD recipe
# of crosskd_retinanet_r18-r18w16h64_toy-coco.py (teacher retinanet_r18_toy-coco
# -> student retinanet_r18-w16h64_toy-coco, same 64-channel FPN and head) plus
# CanKD on the 3 FPN levels (../_base_/distillers/toy_cankd_fpn64.py, as in
# cankd_retinanet_r18-r18w16h64_toy-coco.py). All five terms log as distill.*.
# Train the teacher first (tools/quickstart.py --task det does), then:
#   python tools/train.py configs/quickstart/cankd-crosskd_retinanet_r18-r18w16h64_toy-coco.py
# The exported student is plain retinanet_r18-w16h64_toy-coco.py.
_base_ = [
    './crosskd_retinanet_r18-r18w16h64_toy-coco.py', '../_base_/distillers/toy_cankd_fpn64.py'
]

model = dict(
    distiller=dict(
        student_recorders={{_base_.toy_cankd_fpn_recorders}},
        teacher_recorders={{_base_.toy_cankd_fpn_recorders}},
        distill_losses={{_base_.toy_cankd_fpn_losses}},
        loss_forward_mappings={{_base_.toy_cankd_fpn_mappings}}))
