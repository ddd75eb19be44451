"""Two teachers at once, end to end on toy COCO through the tools: train
(MultiTeacherDistill, each teacher from its checkpoint, both evaluated once),
test, export the student and get the same metric from plain mmdet; and the
same config on two CPU processes (dist_train.sh)."""
import re

import pytest
import torch

from cankd.utils import safe_load


pytestmark = pytest.mark.slow


def _test_metrics(output: str) -> dict:
    """The metrics of the last ``Iter(test)`` log line (timings dropped)."""
    lines = [line for line in output.splitlines() if 'Iter(test)' in line and ':' in line]
    assert lines, output[-3000:]
    pairs = re.findall(r'(\S+): (-?[\d.]+|nan)', lines[-1].split('Iter(test)')[1])
    return {k: v for k, v in pairs if k not in ('time', 'data_time', 'eta')}


def _write(path, text):
    path.write_text(text)
    return str(path)

TWO_TEACHERS = """
model = dict(
    _delete_=True, _scope_='cankd', type='MultiTeacherDistill',
    architecture=dict(cfg_path={student!r}),
    teachers=dict(
        full=dict(model=dict(cfg_path={teacher!r}), ckpt={ckpt!r}, loss_weight=0.5),
        fpn=dict(model=dict(cfg_path={teacher!r}, neck=dict(out_channels=16),
                           bbox_head=dict(in_channels=16, feat_channels=16)),
                 ckpt={ckpt!r}, ckpt_strict=False, fpn_only=True, loss_weight=0.5)),
    distiller=dict(
        type='MultiTeacherDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders={{t: dict(fpn=dict(type='ModuleOutputs', source='neck'))
                            for t in ('full', 'fpn')}},
        connectors={{f'down{{i}}': dict(type='ConvModuleConnector', in_channel=32,
                                        out_channel=16, norm_cfg=dict(type='BN'),
                                        act_cfg=None) for i in range(3)}},
        distill_losses={{f'loss_cankd_{{t}}_fpn{{i}}': dict(
            type='CanKDLoss', in_channels=32 if t == 'full' else 16, loss_weight=10)
            for t in ('full', 'fpn') for i in range(3)}},
        loss_forward_mappings={{f'loss_cankd_{{t}}_fpn{{i}}': dict(
            s_feature=dict(from_student=True, recorder='fpn', data_idx=i,
                           **({{}} if t == 'full' else dict(connector=f'down{{i}}'))),
            t_feature=dict(from_student=False, teacher=t, recorder='fpn', data_idx=i))
            for t in ('full', 'fpn') for i in range(3)}}))
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop', evaluate_teacher=True)
"""


@pytest.fixture(scope='module')
def two_teacher_configs(tmp_path_factory, tiny_retinanet_config, run_tool):
    """(student config, two-teacher config); the teacher is trained once and
    used twice: whole (full forward) and with a narrower, partly loaded
    neck (backbone + neck only), so the two teachers differ."""
    tmp_path = tmp_path_factory.mktemp('multi')
    student_cfg = _write(tmp_path / 'student.py', f"""_base_ = {tiny_retinanet_config!r}
model = dict(backbone=dict(base_channels=8), neck=dict(in_channels=[16, 32, 64]))
""")
    teacher_dir = tmp_path / 'teacher'
    run_tool('train.py', tiny_retinanet_config, '--work-dir', teacher_dir)
    kd_cfg = _write(tmp_path / 'kd.py', f'_base_ = {student_cfg!r}\n' + TWO_TEACHERS.format(
        student=student_cfg, teacher=tiny_retinanet_config,
        ckpt=str(teacher_dir / 'iter_2.pth')))
    return student_cfg, kd_cfg, teacher_dir / 'iter_2.pth'


def test_two_teachers_train_test_export(two_teacher_configs, run_tool, tmp_path):
    student_cfg, kd_cfg, teacher_ckpt = two_teacher_configs
    kd_dir = tmp_path / 'kd'
    out = run_tool('train.py', kd_cfg, '--work-dir', kd_dir)
    assert 'distill.loss_cankd_full_fpn2' in out and 'distill.loss_cankd_fpn_fpn0' in out
    # each teacher evaluated, once
    assert len(re.findall(r'teacher\.full\.coco/bbox_mAP: ', out)) == 1
    assert len(re.findall(r'teacher\.fpn\.coco/bbox_mAP: ', out)) == 1

    state = safe_load(kd_dir / 'iter_2.pth')['state_dict']
    assert any(k.startswith('teachers.fpn.') for k in state)
    for key, value in safe_load(teacher_ckpt)['state_dict'].items():
        assert torch.equal(state[f'teachers.full.{key}'], value), key  # unchanged

    kd_metrics = _test_metrics(run_tool('test.py', kd_cfg, kd_dir / 'iter_2.pth'))
    assert 'coco/bbox_mAP' in kd_metrics
    exported = tmp_path / 'student.pth'
    run_tool('model_converters/convert_kd_ckpt_to_student.py', kd_dir / 'iter_2.pth',
             '--out-path', exported)
    student = torch.load(exported, weights_only=True)['state_dict']
    assert student and not any(k.startswith(('teachers.', 'distiller.', 'architecture.'))
                               for k in student)
    out = run_tool('test.py', student_cfg, exported)
    assert 'missing keys' not in out and 'unexpected key' not in out
    assert _test_metrics(out) == kd_metrics


def test_two_teachers_on_two_cpu_processes(two_teacher_configs, run_tool, tmp_path):
    _, kd_cfg, _ = two_teacher_configs
    kd_dir = tmp_path / 'kd_dist'
    out = run_tool('dist_train.sh', kd_cfg, 2, '--work-dir', kd_dir,
                   '--cfg-options', 'val_cfg.evaluate_teacher=False',
                   env=dict(PORT=str(29500 + (hash(str(tmp_path)) % 2000))))
    assert 'distill.loss_cankd_fpn_fpn0' in out
    state = safe_load(kd_dir / 'iter_2.pth')['state_dict']
    # CanKD's BN starts at zero; after two synchronised steps it is not.
    assert state['distiller.distill_losses.loss_cankd_fpn_fpn0.bn.weight'].abs().sum() > 0
