"""CanKD + CrossKD in one config, end to end on toy COCO through the tools a
user runs: train the teacher, distil (both losses logged apart), test,
export the student and get the same mAP from plain mmdet."""
import re

import pytest
import torch

pytestmark = pytest.mark.slow

CROSS = 'cankd.models.algorithms.crosskd_distill.CrossKDDistill.cross_head_forward'
TEACHER = 'cankd.models.algorithms.crosskd_distill.CrossKDDistill.teacher_head_forward'
TARGETS = 'mmdet.models.dense_heads.anchor_head.AnchorHead.get_targets'

# The student keeps the teacher's 32-channel FPN and head (CrossKD runs its
# head features through the teacher's head) on a half-width backbone.
KD = """
model = dict(
    _delete_=True, _scope_='cankd', type='CrossKDDistill',
    architecture=dict(cfg_path={student!r}),
    teacher=dict(cfg_path={teacher!r}),
    teacher_ckpt={ckpt!r},
    reused_teacher_head_idx=1,
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck'),
                               cross=dict(type='MethodOutputs', source={cross!r}),
                               targets=dict(type='MethodOutputs', source={targets!r})),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck'),
                               head=dict(type='MethodOutputs', source={head!r})),
        distill_losses=dict(
            loss_cls_kd=dict(type='KDQualityFocalLoss', beta=1, loss_weight=1.0),
            loss_reg_kd=dict(type='CrossKDBoxLoss', mode='giou', normalize='avg_factor',
                             loss_weight=1.0),
            **{{f'loss_cankd_fpn{{i}}': dict(type='CanKDLoss', in_channels=32, loss_weight=10)
                for i in range(3)}}),
        loss_forward_mappings=dict(
            loss_cls_kd=dict(
                preds_S=dict(from_student=True, recorder='cross', data_idx=0),
                preds_T=dict(from_student=False, recorder='head', data_idx=0),
                label_weights=dict(from_student=True, recorder='targets', data_idx=1),
                avg_factor=dict(from_student=True, recorder='targets', data_idx=4)),
            loss_reg_kd=dict(
                boxes_S=dict(from_student=True, recorder='cross', data_idx=2),
                boxes_T=dict(from_student=False, recorder='head', data_idx=2),
                scores_T=dict(from_student=False, recorder='head', data_idx=0),
                label_weights=dict(from_student=True, recorder='targets', data_idx=1),
                avg_factor=dict(from_student=True, recorder='targets', data_idx=4)),
            **{{f'loss_cankd_fpn{{i}}': dict(
                s_feature=dict(from_student=True, recorder='fpn', data_idx=i),
                t_feature=dict(from_student=False, recorder='fpn', data_idx=i))
                for i in range(3)}})))
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
"""


def _test_metrics(output: str) -> dict:
    lines = [line for line in output.splitlines() if 'Iter(test)' in line and ':' in line]
    assert lines, output[-3000:]
    pairs = re.findall(r'(\S+): (-?[\d.]+|nan)', lines[-1].split('Iter(test)')[1])
    return {k: v for k, v in pairs if k not in ('time', 'data_time', 'eta')}


def test_cankd_plus_crosskd_train_test_export(tiny_retinanet_config, run_tool, tmp_path):
    student_cfg = tmp_path / 'student.py'
    student_cfg.write_text(f"""_base_ = {tiny_retinanet_config!r}
model = dict(backbone=dict(base_channels=8), neck=dict(in_channels=[16, 32, 64]))
""")
    teacher_dir = tmp_path / 'teacher'
    run_tool('train.py', tiny_retinanet_config, '--work-dir', teacher_dir)
    kd_cfg = tmp_path / 'kd.py'
    kd_cfg.write_text(f'_base_ = {str(student_cfg)!r}\n' + KD.format(
        student=str(student_cfg), teacher=tiny_retinanet_config,
        ckpt=str(teacher_dir / 'iter_2.pth'), cross=CROSS, targets=TARGETS, head=TEACHER))

    kd_dir = tmp_path / 'kd'
    out = run_tool('train.py', kd_cfg, '--work-dir', kd_dir)
    for key in ('distill.loss_cls_kd', 'distill.loss_reg_kd', 'distill.loss_cankd_fpn0',
                'distill.loss_cankd_fpn2', 'student.loss_cls'):
        assert key in out, key
    state = torch.load(kd_dir / 'iter_2.pth', map_location='cpu', weights_only=False)['state_dict']
    # the teacher's head is saved whole, nothing of the cross path is
    assert not any('_Feed' in k or 'feats' in k for k in state)
    assert 'teacher.bbox_head.cls_convs.0.conv.weight' in state

    kd_metrics = _test_metrics(run_tool('test.py', kd_cfg, kd_dir / 'iter_2.pth'))
    assert 'coco/bbox_mAP' in kd_metrics
    exported = tmp_path / 'student.pth'
    run_tool('model_converters/convert_kd_ckpt_to_student.py', kd_dir / 'iter_2.pth',
             '--out-path', exported)
    out = run_tool('test.py', student_cfg, exported)
    assert 'missing keys' not in out and 'unexpected key' not in out
    assert _test_metrics(out) == kd_metrics
