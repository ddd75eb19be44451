# Teacher on the toy data: RetinaNet with a full-width ResNet-18.
_base_ = [
    '../_base_/models/toy_retinanet.py', '../_base_/datasets/toy_coco_detection.py',
    '../_base_/schedules/toy_det_schedule.py', '../_base_/toy_det_runtime.py'
]
