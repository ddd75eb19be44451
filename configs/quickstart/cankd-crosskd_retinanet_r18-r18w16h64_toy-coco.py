# CanKD on the FPN + CrossKD on the head, on the toy data: the CrossKD recipe
# of crosskd_retinanet_r18-r18w16h64_toy-coco.py (teacher retinanet_r18_toy-coco
# -> student retinanet_r18-w16h64_toy-coco, same 64-channel FPN and head) plus
# CanKD on the 3 FPN levels (64 channels, loss_weight 10, as in
# cankd_retinanet_r18-r18w16h64_toy-coco.py). All five terms log as distill.*.
# Train the teacher first (tools/quickstart.py --task det does), then:
#   python tools/train.py configs/quickstart/cankd-crosskd_retinanet_r18-r18w16h64_toy-coco.py
# The exported student is plain retinanet_r18-w16h64_toy-coco.py.
_base_ = './crosskd_retinanet_r18-r18w16h64_toy-coco.py'

model = dict(
    distiller=dict(
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        distill_losses={
            f'loss_cankd_fpn{i}': dict(type='CanKDLoss', in_channels=64, loss_weight=10)
            for i in range(3)
        },
        loss_forward_mappings={
            f'loss_cankd_fpn{i}': dict(
                s_feature=dict(from_student=True, recorder='fpn', data_idx=i),
                t_feature=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(3)
        }))
