import copy

import pytest
import torch
from mmengine.optim import OptimWrapper

from cankd.models.algorithms import FpnTeacherDistill, SingleTeacherDistill
from cankd.registry import MODELS
from cankd.testing import demo_det_batch, demo_seg_batch, tiny_retinanet, tiny_segmentor
from cankd.utils.student_export import convert_kd_ckpt_to_student

NECK = 16
LEVELS = 3


def _fpn_distiller(weight=10.0):
    losses = {f'loss_cankd_fpn{i}': dict(type='CanKDLoss', in_channels=NECK,
                                          loss_weight=weight) for i in range(LEVELS)}
    mappings = {f'loss_cankd_fpn{i}': dict(
        s_feature=dict(from_student=True, recorder='fpn', data_idx=i),
        t_feature=dict(from_student=False, recorder='fpn', data_idx=i)) for i in range(LEVELS)}
    return dict(type='ConfigurableDistiller',
                student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
                teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
                distill_losses=losses, loss_forward_mappings=mappings)


def _det_algorithm(tmp_path, algorithm='FpnTeacherDistill', **kwargs):
    teacher_cfg = tiny_retinanet(base_channels=16, neck_channels=NECK)
    teacher = MODELS.build(teacher_cfg)
    ckpt = tmp_path / 'teacher.pth'
    torch.save({'state_dict': teacher.state_dict(), 'meta': {}}, ckpt)
    student_cfg = tiny_retinanet(base_channels=8, neck_channels=NECK)
    student_cfg.pop('_scope_')  # the scope is inferred from the type
    model = MODELS.build(dict(type=algorithm, architecture=student_cfg, teacher=teacher_cfg,
                              teacher_ckpt=str(ckpt), distiller=_fpn_distiller(), **kwargs))
    return model, teacher


@pytest.mark.parametrize('algorithm', ['FpnTeacherDistill', 'SingleTeacherDistill'])
def test_train_step_trains_student_and_distiller_not_teacher(tmp_path, algorithm):
    model, reference_teacher = _det_algorithm(tmp_path, algorithm)
    model.init_weights()  # the Runner does this; it must not undo teacher_ckpt
    for (name, p), (_, q) in zip(model.teacher.state_dict().items(),
                                 reference_teacher.state_dict().items()):
        assert torch.equal(p, q), f'teacher {name} differs from teacher_ckpt'
    model.train()
    assert not model.teacher.training and model.architecture.training
    teacher_before = copy.deepcopy(model.teacher.state_dict())
    student_before = copy.deepcopy(model.architecture.state_dict())
    distiller_before = copy.deepcopy(model.distiller.state_dict())
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    for seed in range(2):
        log_vars = model.train_step(demo_det_batch(seed=seed), optim)
    assert {'student.loss_cls', 'student.loss_bbox', 'distill.loss_cankd_fpn0',
            'distill.loss_cankd_fpn2'} <= set(log_vars)
    for name, value in model.teacher.state_dict().items():  # weights and BN stats
        assert torch.equal(value, teacher_before[name]), f'teacher {name} changed'
    assert any(not torch.equal(v, student_before[k])
               for k, v in model.architecture.state_dict().items())
    assert any(not torch.equal(v, distiller_before[k])
               for k, v in model.distiller.state_dict().items())
    assert all(not p.requires_grad for p in model.teacher.parameters())


def test_predict_runs_the_student(tmp_path):
    model, _ = _det_algorithm(tmp_path)
    model.eval()
    data = model.data_preprocessor(demo_det_batch(), False)
    with torch.no_grad():
        ours = model(**data, mode='tensor')
        student = model.architecture(**data, mode='tensor')
    for a, b in zip(ours[0], student[0]):
        torch.testing.assert_close(a, b)


def test_missing_teacher_ckpt_fails_before_building(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'teacher_ckpt not found: .*nowhere\.pth'):
        MODELS.build(dict(type='FpnTeacherDistill', architecture=tiny_retinanet(),
                          teacher=tiny_retinanet(), teacher_ckpt=str(tmp_path / 'nowhere.pth'),
                          distiller=_fpn_distiller()))


def test_misspelt_recorder_source_fails_at_build():
    distiller = _fpn_distiller()
    distiller['teacher_recorders']['fpn']['source'] = 'nek'
    with pytest.raises(ValueError, match=r"no module named 'nek' in RetinaNet.*'neck'"):
        MODELS.build(dict(type='FpnTeacherDistill', architecture=tiny_retinanet(),
                          teacher=tiny_retinanet(), distiller=distiller))


def test_export_student_loads_in_plain_mmdet_with_same_outputs(tmp_path):
    model, _ = _det_algorithm(tmp_path)
    kd_ckpt = tmp_path / 'kd.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'iter': 3, 'cfg': 'x'}}, kd_ckpt)
    out = tmp_path / 'student.pth'
    convert_kd_ckpt_to_student(str(kd_ckpt), str(out))
    plain = MODELS.build(tiny_retinanet(base_channels=8, neck_channels=NECK))
    loaded = torch.load(out, weights_only=True)
    result = plain.load_state_dict(loaded['state_dict'], strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert loaded['meta'] == {'iter': 3}
    plain.eval()
    model.eval()
    data = model.data_preprocessor(demo_det_batch(), False)
    with torch.no_grad():
        for a, b in zip(plain(**data, mode='tensor')[0], model(**data, mode='tensor')[0]):
            torch.testing.assert_close(a, b)


def test_export_rejects_a_non_distillation_checkpoint(tmp_path):
    path = tmp_path / 'plain.pth'
    torch.save({'state_dict': {'backbone.w': torch.zeros(1)}}, path)
    with pytest.raises(ValueError, match=r"no \"architecture.\*\" weights.*\['backbone'\]"):
        convert_kd_ckpt_to_student(str(path))


def test_segmentation_pair_with_connector():
    # student layer4 has 64 channels, teacher 128: a 1x1 ConvModuleConnector lifts it.
    distiller = dict(
        type='ConfigurableDistiller',
        student_recorders=dict(bb=dict(type='ModuleOutputs', source='backbone.layer4')),
        teacher_recorders=dict(bb=dict(type='ModuleOutputs', source='backbone.layer4')),
        connectors=dict(lift=dict(type='ConvModuleConnector', in_channel=64, out_channel=128,
                                  norm_cfg=dict(type='BN'), act_cfg=None)),
        distill_losses=dict(loss_cankd=dict(type='CanKDLoss', in_channels=128, loss_weight=10)),
        loss_forward_mappings=dict(loss_cankd=dict(
            s_feature=dict(from_student=True, recorder='bb', connector='lift'),
            t_feature=dict(from_student=False, recorder='bb'))))
    model = SingleTeacherDistill(architecture=tiny_segmentor(base_channels=8),
                                 teacher=tiny_segmentor(base_channels=16), distiller=distiller)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    log_vars = model.train_step(demo_seg_batch(), optim)
    assert {'student.decode.loss_ce', 'distill.loss_cankd'} <= set(log_vars)
    assert torch.isfinite(torch.tensor(log_vars['loss'])).all()


def test_fpn_teacher_distill_runs_only_teacher_features(tmp_path, monkeypatch):
    model, _ = _det_algorithm(tmp_path)
    calls = []
    monkeypatch.setattr(model.teacher.bbox_head, 'forward',
                        lambda *a, **k: calls.append(1))
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    model.train_step(demo_det_batch(), optim)
    assert calls == []
    assert isinstance(model, FpnTeacherDistill)


def test_caffe_teacher_sees_its_own_normalisation():
    student_cfg = tiny_retinanet(base_channels=8, neck_channels=NECK)
    teacher_cfg = tiny_retinanet(base_channels=8, neck_channels=NECK)
    teacher_cfg['data_preprocessor'].update(mean=[102.98, 115.95, 122.77], std=[1.0, 1.0, 1.0],
                                            bgr_to_rgb=False)
    model = MODELS.build(dict(type='FpnTeacherDistill', architecture=student_cfg,
                              teacher=teacher_cfg, distiller=_fpn_distiller()))
    batch = demo_det_batch()
    as_student = model.data_preprocessor(batch, False)['inputs']
    as_teacher = model.teacher.data_preprocessor(batch, False)['inputs']
    torch.testing.assert_close(model.teacher_inputs(as_student), as_teacher,
                               rtol=1e-5, atol=1e-3)
    same, _ = _det_algorithm_without_ckpt()
    x = torch.randn(1, 3, 8, 8)
    assert same.teacher_inputs(x) is x


def _det_algorithm_without_ckpt():
    model = MODELS.build(dict(type='FpnTeacherDistill',
                              architecture=tiny_retinanet(base_channels=8, neck_channels=NECK),
                              teacher=tiny_retinanet(base_channels=16, neck_channels=NECK),
                              distiller=_fpn_distiller()))
    return model, None


def test_trainable_teacher_is_refused_with_a_reason():
    with pytest.raises(ValueError, match='teacher_trainable=True is not supported'):
        MODELS.build(dict(type='FpnTeacherDistill', architecture=tiny_retinanet(),
                          teacher=tiny_retinanet(), distiller=_fpn_distiller(),
                          teacher_trainable=True))
