"""MultiTeacherDistill: named frozen teachers, mappings by teacher name."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper

from cankd.models.distillers.configurable_distiller import DistillConfigError
from cankd.registry import MODELS
from cankd.testing import demo_det_batch, tiny_retinanet
from cankd.utils.student_export import convert_kd_ckpt_to_student

NECK = 16
LEVELS = 3
CAFFE_MEAN = [103.53, 116.28, 123.675]


def _distiller(teachers=('a', 'b'), weight=10.0):
    losses, mappings = {}, {}
    for t in teachers:
        for i in range(LEVELS):
            losses[f'loss_{t}_fpn{i}'] = dict(type='CanKDLoss', in_channels=NECK,
                                              loss_weight=weight)
            mappings[f'loss_{t}_fpn{i}'] = dict(
                s_feature=dict(from_student=True, recorder='fpn', data_idx=i),
                t_feature=dict(from_student=False, teacher=t, recorder='fpn', data_idx=i))
    return dict(type='MultiTeacherDistiller',
                student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
                teacher_recorders={t: dict(fpn=dict(type='ModuleOutputs', source='neck'))
                                   for t in teachers},
                distill_losses=losses, loss_forward_mappings=mappings)


def _teacher_cfg(base_channels, caffe=False):
    cfg = tiny_retinanet(base_channels=base_channels, neck_channels=NECK)
    if caffe:  # a caffe-style teacher: BGR, std 1
        cfg['data_preprocessor'].update(mean=CAFFE_MEAN, std=[1.0] * 3, bgr_to_rgb=False)
    return cfg


def _build(tmp_path, distiller=None, teachers=None, **kwargs):
    refs = {}
    if teachers is None:
        teachers = {}
        for name, width, caffe in (('a', 16, False), ('b', 8, True)):
            cfg = _teacher_cfg(width, caffe)
            refs[name] = MODELS.build(cfg)
            ckpt = tmp_path / f'{name}.pth'
            torch.save({'state_dict': refs[name].state_dict(), 'meta': {}}, ckpt)
            teachers[name] = dict(model=cfg, ckpt=str(ckpt), fpn_only=(name == 'a'))
    student = tiny_retinanet(base_channels=8, neck_channels=NECK)
    model = MODELS.build(dict(type='MultiTeacherDistill', architecture=student,
                              teachers=teachers, distiller=distiller or _distiller(),
                              **kwargs))
    return model, refs


def test_teachers_frozen_recorded_and_student_trains(tmp_path):
    model, refs = _build(tmp_path)
    model.init_weights()  # must not undo the teachers' checkpoints
    for name, ref in refs.items():
        for key, value in ref.state_dict().items():
            assert torch.equal(model.teachers[name].state_dict()[key], value), (name, key)
    model.train()
    assert model.architecture.training
    assert all(not t.training for t in model.teachers.values())
    assert all(not p.requires_grad for p in model.teachers.parameters())
    before = copy.deepcopy(model.teachers.state_dict())
    student_before = copy.deepcopy(model.architecture.state_dict())

    calls = {'a': 0, 'b': 0}
    seen = {}
    for name, teacher in model.teachers.items():
        def hook(module, args, output, name=name):
            calls[name] += 1
            seen[name] = (args[0].shape, torch.is_grad_enabled(), module.training)
        teacher.backbone.register_forward_hook(hook)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    for seed in range(2):
        log_vars = model.train_step(demo_det_batch(seed=seed), optim)
    assert calls == {'a': 2, 'b': 2}  # once per step each
    for name in ('a', 'b'):
        shape, grad, training = seen[name]
        assert not grad and not training
    assert seen['a'][0] == seen['b'][0]  # the same batch, same size
    assert {'student.loss_cls', 'distill.loss_a_fpn0', 'distill.loss_b_fpn2'} <= set(log_vars)
    for key, value in model.teachers.state_dict().items():
        assert torch.equal(value, before[key]), f'teacher {key} changed'
    assert any(not torch.equal(v, student_before[k])
               for k, v in model.architecture.state_dict().items())
    # nothing left recorded between steps
    assert all(not r.data_buffer for m in model.distiller.teacher_recorders_by_name.values()
               for r in m.recorders.values())


def test_each_teacher_recorded_with_its_own_normalisation(tmp_path):
    model, _ = _build(tmp_path)
    data = model.data_preprocessor(demo_det_batch(), True)
    a = model.teacher_inputs('a', data['inputs'])
    b = model.teacher_inputs('b', data['inputs'])
    assert a is data['inputs']  # same normalisation as the student
    raw = data['inputs'] * model.data_preprocessor.std + model.data_preprocessor.mean
    expected = raw.flip(1) - torch.tensor(CAFFE_MEAN).view(1, 3, 1, 1)
    torch.testing.assert_close(b, expected)
    model.train()
    with model.distiller.teacher_recorders_by_name['b'], torch.no_grad():
        model.teacher_forward('b', b, data['data_samples'])
    with torch.no_grad():
        direct = model.teachers['b'].extract_feat(b)
    recorded = model.distiller.teacher_recorders_by_name['b'].get_recorder('fpn')
    torch.testing.assert_close(recorded.get_record_data(0, 1), direct[1])


def test_per_teacher_loss_weights(tmp_path):
    teachers = {}
    for name in ('a', 'b'):
        teachers[name] = dict(model=_teacher_cfg(8), fpn_only=True)
    torch.manual_seed(0)
    model, _ = _build(tmp_path, teachers=copy.deepcopy(teachers))
    teachers['a']['loss_weight'] = 0.0
    teachers['b']['loss_weight'] = 0.5
    torch.manual_seed(0)
    weighted, _ = _build(tmp_path, teachers=teachers)
    weighted.load_state_dict(model.state_dict())
    data = model.data_preprocessor(demo_det_batch(), True)
    torch.manual_seed(1)
    plain = model.loss(**data)
    torch.manual_seed(1)
    scaled = weighted.loss(**data)
    for i in range(LEVELS):
        assert scaled[f'distill.loss_a_fpn{i}'].item() == 0
        torch.testing.assert_close(scaled[f'distill.loss_b_fpn{i}'],
                                   0.5 * plain[f'distill.loss_b_fpn{i}'])
    torch.testing.assert_close(scaled['student.loss_cls'], plain['student.loss_cls'])


def test_export_gives_the_plain_student(tmp_path):
    model, _ = _build(tmp_path)
    ckpt = tmp_path / 'kd.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'cfg': 'x'}}, ckpt)
    student = convert_kd_ckpt_to_student(str(ckpt), str(tmp_path / 'student.pth'))
    plain = MODELS.build(tiny_retinanet(base_channels=8, neck_channels=NECK))
    plain.load_state_dict(student['state_dict'])  # strict: exactly the student
    assert not any(k.startswith('teachers.') for k in student['state_dict'])


def test_predict_runs_the_student(tmp_path):
    model, _ = _build(tmp_path)
    model.eval()
    data = model.data_preprocessor(demo_det_batch(), False)
    with torch.no_grad():
        ours = model(**data, mode='tensor')
        student = model.architecture(**data, mode='tensor')
    for x, y in zip(ours[0], student[0]):
        torch.testing.assert_close(x, y)


def _cfg_teachers(*names):
    return {n: dict(model=_teacher_cfg(8), fpn_only=True) for n in names}


@pytest.mark.parametrize('change, match', [
    (lambda d, t: d['loss_forward_mappings']['loss_a_fpn0']['t_feature'].update(teacher='c'),
     r"loss_a_fpn0\.t_feature\.teacher: no teacher 'c' .*valid: \['a', 'b'\]"),
    (lambda d, t: d['loss_forward_mappings']['loss_a_fpn0']['t_feature'].pop('teacher'),
     r"loss_a_fpn0\.t_feature: from_student=False needs teacher=<name>.*\['a', 'b'\]"),
    (lambda d, t: d['teacher_recorders'].update(c=dict(fpn=dict(type='ModuleOutputs',
                                                                source='neck'))),
     r"teacher_recorders: no teacher named \['c'\] in teachers; valid: \['a', 'b'\]"),
    (lambda d, t: d['teacher_recorders'].update(a=dict(type='ModuleOutputs', source='neck')),
     r'teacher_recorders\.a: MultiTeacherDistiller keys teacher_recorders by teacher name'),
    (lambda d, t: d['loss_forward_mappings']['loss_a_fpn0']['t_feature'].update(
        recorder='neck'), r"t_feature\.recorder: no recorder 'neck' in teacher_recorders\.a"),
    (lambda d, t: t.update(c=dict(model=_teacher_cfg(8))),
     r"teachers \['c'\]: no distill loss reads them"),
    (lambda d, t: t['a'].update(ckpt_stict=False),
     r"teachers\.a: unknown key\(s\) \['ckpt_stict'\]; valid: \('model', 'ckpt'"),
    (lambda d, t: t['b'].update(loss_weight=-1), r'teachers\.b\.loss_weight must be'),
    (lambda d, t: d.update(type='ConfigurableDistiller'),
     r'needs distiller type "MultiTeacherDistiller"'),
])
def test_config_errors_name_the_culprit(tmp_path, change, match):
    distiller, teachers = _distiller(), _cfg_teachers('a', 'b')
    change(distiller, teachers)
    with pytest.raises(DistillConfigError, match=match):
        _build(tmp_path, distiller=distiller, teachers=teachers)


def test_missing_teacher_ckpt_names_the_teacher(tmp_path):
    teachers = _cfg_teachers('a', 'b')
    teachers['b']['ckpt'] = str(tmp_path / 'nowhere.pth')
    with pytest.raises(FileNotFoundError, match=r'teachers\.b\.ckpt not found'):
        _build(tmp_path, teachers=teachers)


def test_single_teacher_mappings_stay_valid(tmp_path):
    """One teacher: mappings without teacher= (single-teacher configs) work."""
    distiller = _distiller(teachers=('a',))
    for mapping in distiller['loss_forward_mappings'].values():
        mapping['t_feature'].pop('teacher')
    model, _ = _build(tmp_path, distiller=distiller, teachers=_cfg_teachers('a'))
    losses = model.loss(**model.data_preprocessor(demo_det_batch(), True))
    assert 'distill.loss_a_fpn0' in losses
