# CrossKD on the toy data: teacher retinanet_r18_toy-coco -> student
# retinanet_r18-w16h64_toy-coco (the teacher's 64-channel FPN and head, which
# CrossKD needs: the student's head features run through the teacher's head).
# The student's first head conv of each tower (reused_teacher_head_idx=1 of 2)
# feeds the teacher's second conv and predictors; CrossKD's RetinaNet recipe
# (../_base_/distillers/crosskd_retinanet.py, as the COCO config). Train the
# teacher first (tools/quickstart.py --task det does) and point teacher_ckpt
# at it.
_base_ = ['./retinanet_r18-w16h64_toy-coco.py', '../_base_/distillers/crosskd_retinanet.py']

teacher_ckpt = 'work_dirs/quickstart/det/teacher/iter_1500.pth'
model = dict(
    _delete_=True,
    _scope_='cankd',
    type='CrossKDDistill',
    architecture=dict(cfg_path='configs/quickstart/retinanet_r18-w16h64_toy-coco.py'),
    teacher=dict(cfg_path='configs/quickstart/retinanet_r18_toy-coco.py'),
    teacher_ckpt=teacher_ckpt,
    reused_teacher_head_idx=1,
    distiller={{_base_.crosskd_retinanet_distiller}})
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
