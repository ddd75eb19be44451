"""End to end on toy data, CPU, through the tools a user runs: train a teacher,
distil (teacher loaded from its checkpoint), resume, test, export the student
and get the same metric from plain mmdet / mmseg."""
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


DET_DISTILLER = """
model = dict(
    _delete_=True, _scope_='cankd', type='FpnTeacherDistill',
    architecture=dict(cfg_path={student!r}),
    teacher=dict(cfg_path={teacher!r}),
    teacher_ckpt={ckpt!r},
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        distill_losses={{f'loss_cankd_fpn{{i}}': dict(type='CanKDLoss', in_channels=32,
                                                    loss_weight=10) for i in range(3)}},
        loss_forward_mappings={{f'loss_cankd_fpn{{i}}': dict(
            s_feature=dict(from_student=True, recorder='fpn', data_idx=i),
            t_feature=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(3)}}))
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop', evaluate_teacher=True)
"""


@pytest.fixture(scope='module')
def det_configs(tmp_path_factory, tiny_retinanet_config, run_tool):
    """(student config, distillation config); the teacher is trained once."""
    tmp_path = tmp_path_factory.mktemp('det')
    student_cfg = _write(tmp_path / 'student.py', f"""_base_ = {tiny_retinanet_config!r}
model = dict(backbone=dict(base_channels=8), neck=dict(in_channels=[16, 32, 64]))
""")
    teacher_dir = tmp_path / 'teacher'
    run_tool('train.py', tiny_retinanet_config, '--work-dir', teacher_dir)
    kd_cfg = _write(tmp_path / 'kd.py', f'_base_ = {student_cfg!r}\n' + DET_DISTILLER.format(
        student=student_cfg, teacher=tiny_retinanet_config, ckpt=str(teacher_dir / 'iter_2.pth')))
    return student_cfg, kd_cfg


def test_detection_distill_resume_test_export(det_configs, run_tool, tmp_path):
    student_cfg, kd_cfg = det_configs

    kd_dir = tmp_path / 'kd'
    out = run_tool('train.py', kd_cfg, '--work-dir', kd_dir)
    assert 'distill.loss_cankd_fpn2' in out and 'teacher.coco/bbox_mAP' in out
    out = run_tool('train.py', kd_cfg, '--work-dir', kd_dir, '--resume',
                   '--cfg-options', 'train_cfg.max_iters=4')
    assert re.search(r'resumed.*iter: 2', out, re.S | re.I), out[-3000:]
    assert 'Iter(train) [4/4]' in out and 'Iter(train) [1/4]' not in out
    # the teacher is evaluated at most once per run
    assert len(re.findall(r'teacher\.coco/bbox_mAP: ', out)) == 1

    kd_metrics = _test_metrics(run_tool('test.py', kd_cfg, kd_dir / 'iter_4.pth'))
    assert 'coco/bbox_mAP' in kd_metrics

    exported = tmp_path / 'student.pth'
    run_tool('model_converters/convert_kd_ckpt_to_student.py', kd_dir / 'iter_4.pth',
             '--out-path', exported)
    state = torch.load(exported, weights_only=True)['state_dict']
    assert state and not any(k.startswith(('teacher.', 'distiller.', 'architecture.'))
                             for k in state)
    out = run_tool('test.py', student_cfg, exported)
    assert 'missing keys' not in out and 'unexpected key' not in out
    assert _test_metrics(out) == kd_metrics


def test_detection_distill_on_two_cpu_processes(det_configs, run_tool, tmp_path):
    """MMDistributedDataParallel over gloo: the distill modules train too."""
    _, kd_cfg = det_configs
    kd_dir = tmp_path / 'kd_dist'
    out = run_tool('dist_train.sh', kd_cfg, 2, '--work-dir', kd_dir,
                   env=dict(PORT=str(29500 + (hash(str(tmp_path)) % 2000))))
    assert 'distill.loss_cankd_fpn0' in out
    state = safe_load(kd_dir / 'iter_2.pth')['state_dict']
    # CanKD's BN starts at zero; after two synchronised steps it is not.
    bn = state['distiller.distill_losses.loss_cankd_fpn0.bn.weight']
    assert bn.abs().sum() > 0


SEG_DISTILLER = """
model = dict(
    _delete_=True, _scope_='cankd', type='SingleTeacherDistill',
    architecture=dict(cfg_path={student!r}),
    teacher=dict(cfg_path={teacher!r}),
    teacher_ckpt={ckpt!r},
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(bb=dict(type='ModuleOutputs', source='backbone.layer4')),
        teacher_recorders=dict(bb=dict(type='ModuleOutputs', source='backbone.layer4')),
        connectors=dict(lift=dict(type='ConvModuleConnector', in_channel={s_ch},
                                  out_channel=128, norm_cfg=dict(type='BN'), act_cfg=None)),
        distill_losses=dict(loss_cankd=dict(type='CanKDLoss', in_channels=128, loss_weight=10)),
        loss_forward_mappings=dict(loss_cankd=dict(
            s_feature=dict(from_student=True, recorder='bb', connector='lift'),
            t_feature=dict(from_student=False, recorder='bb')))))
find_unused_parameters = True
val_cfg = dict(_delete_=True, type='cankd.SingleTeacherDistillValLoop')
"""


def _seg_configs(tmp_path, tiny_fcn_config, teacher_ckpt, s_ch=64):
    student_cfg = _write(tmp_path / 'student.py', f"""_base_ = {tiny_fcn_config!r}
model = dict(backbone=dict(base_channels=8, stem_channels=8),
             decode_head=dict(in_channels=64, channels=16))
""")
    kd_cfg = _write(tmp_path / 'kd.py', f'_base_ = {student_cfg!r}\n' + SEG_DISTILLER.format(
        student=student_cfg, teacher=tiny_fcn_config, ckpt=teacher_ckpt, s_ch=s_ch))
    return student_cfg, kd_cfg


def test_segmentation_distill_test_export(tiny_fcn_config, run_tool, tmp_path):
    teacher_dir = tmp_path / 'teacher'
    run_tool('train.py', tiny_fcn_config, '--work-dir', teacher_dir)
    student_cfg, kd_cfg = _seg_configs(tmp_path, tiny_fcn_config,
                                       str(teacher_dir / 'iter_2.pth'))
    kd_dir = tmp_path / 'kd'
    out = run_tool('train.py', kd_cfg, '--work-dir', kd_dir)
    assert 'distill.loss_cankd' in out
    out = run_tool('test.py', kd_cfg, kd_dir / 'iter_2.pth')
    assert re.search(r'\|\s+road\s+\|', out), out[-3000:]  # per-class IoU table
    kd_metrics = _test_metrics(out)
    assert 'mIoU' in kd_metrics

    exported = tmp_path / 'student.pth'
    run_tool('model_converters/convert_kd_ckpt_to_student.py', kd_dir / 'iter_2.pth',
             '--out-path', exported)
    assert _test_metrics(run_tool('test.py', student_cfg, exported)) == kd_metrics


def test_connector_channel_mismatch_names_recorder_and_channels(tiny_fcn_config, run_tool,
                                                                tmp_path):
    teacher_dir = tmp_path / 'teacher'
    run_tool('train.py', tiny_fcn_config, '--work-dir', teacher_dir,
             '--cfg-options', 'train_cfg.max_iters=1', 'default_hooks.checkpoint.interval=1')
    _, kd_cfg = _seg_configs(tmp_path, tiny_fcn_config, str(teacher_dir / 'iter_1.pth'), s_ch=96)
    with pytest.raises(pytest.fail.Exception) as err:
        run_tool('train.py', kd_cfg, '--work-dir', tmp_path / 'kd')
    message = str(err.value)
    assert "connector 'lift' on recorder 'bb'" in message
    assert 'B x 96 x H x W, got (2, 64,' in message
