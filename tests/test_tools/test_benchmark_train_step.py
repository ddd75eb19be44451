"""tools/analysis_tools/benchmark_train_step.py on the seg quickstart config
with tiny settings: the JSON holds the three modes, their phases and the
ratios, the PNG is written, and the pieces behave (B trains only the student,
the losses-alone step sees the recorded shapes). The pieces are imported
from cankd.utils.benchmark_train_step, the logic behind the tool."""
import importlib.util
import json
import os.path as osp

import pytest
import torch

from cankd.utils.benchmark_train_step import (PHASES, PhaseClock, build_bench,
                                               teacher_student_step)

ROOT = osp.join(osp.dirname(__file__), '..', '..')
TOOL = osp.join(ROOT, 'tools', 'analysis_tools', 'benchmark_train_step.py')
SEG = 'configs/quickstart/cankd_fcn_r18w32-r18w8_toy-cityscapes.py'


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('benchmark_train_step', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_writes_json_and_png(tool, tmp_path):
    out = tmp_path / 'bench'
    result = tool.main([SEG, '--out', str(out), '--repeats', '2', '--warmup', '1',
                        '--batch-size', '1', '--threads', '1', '--profile-steps', '1'])
    data = json.loads((out / 'train_step_benchmark.json').read_text())
    assert data == json.loads(json.dumps(result))
    assert data['meta']['threads'] == 1 and data['meta']['batch_size'] == 1
    res, = data['results']
    assert res['task'] == 'seg' and res['size'] == [64, 128]
    assert res['input_shape'] == [1, 3, 64, 128]
    assert res['algorithm'] == 'SingleTeacherDistill' and res['optimizer'] == 'SGD'
    assert set(res['modes']) == {'A', 'B', 'C'}
    for mode in res['modes'].values():
        assert mode['time_ms'] > 0 and len(mode['times_ms']) == 2
        assert mode['min_ms'] <= mode['time_ms']
        assert mode['cpu_ms'] > 0
        for key in ('phases_ms', 'phases_cpu_ms'):
            assert set(mode[key]) == set(PHASES)
            assert all(v >= 0 for v in mode[key].values())
    phases = {m: res['modes'][m]['phases_ms'] for m in 'ABC'}
    assert phases['A']['teacher'] == 0 and phases['B']['teacher'] > 0
    assert phases['B']['distill'] == 0 and phases['C']['distill'] > 0
    b, c = res['modes']['B']['time_ms'], res['modes']['C']['time_ms']
    assert res['ratio_c_over_b'] == pytest.approx(c / b)
    assert res['overhead_ms'] == pytest.approx(c - b)
    assert res['cpu_ratio_c_over_b'] == pytest.approx(
        res['modes']['C']['cpu_ms'] / res['modes']['B']['cpu_ms'])
    assert res['target_met'] == (c / b <= 1.15)
    assert ('profile' in res) == (not res['target_met'])
    assert res['distill_losses']['time_ms'] > 0
    # layer4 of the dilated ResNet at output stride 8, lifted to 256 channels
    assert res['loss_input_shapes'] == {'loss_cankd.s_feature': [1, 256, 8, 16],
                                        'loss_cankd.t_feature': [1, 256, 8, 16]}
    assert (out / 'train_step_benchmark.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert not list(out.glob('.tmp_*'))  # atomic writes leave no temp files


def test_teacher_student_step_trains_only_the_student():
    bench = build_bench(SEG, batch_size=1, img_size=(32, 32))
    assert bench['task'] == 'seg' and bench['num_classes'] == 8
    student, teacher = bench['student_b'], bench['teacher']
    # the copies start from the algorithm's weights
    for name, p in bench['algorithm'].teacher.state_dict().items():
        assert torch.equal(p, teacher.state_dict()[name]), name
    s0 = {k: v.clone() for k, v in student.state_dict().items()}
    t0 = {k: v.clone() for k, v in teacher.state_dict().items()}
    calls = []
    log_vars = teacher_student_step(
        student, teacher,
        lambda t, x, s: calls.append((torch.is_grad_enabled(), t.training, tuple(x.shape))),
        bench['batch'], bench['wrappers']['B'])
    assert calls == [(False, False, (1, 3, 32, 32))]
    assert 'loss' in log_vars
    moved = [k for k in s0 if not torch.equal(s0[k], student.state_dict()[k])]
    # weights, not only BN statistics: the optimizer stepped
    assert 'backbone.stem.0.weight' in moved and 'decode_head.conv_seg.weight' in moved
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in t0.items())


def test_phase_clock():
    clock = PhaseClock()

    class Obj:
        def work(self, x):
            return x + 1

    obj = Obj()
    clock.wrap(obj, 'work', 'student')
    assert obj.work(1) == 2
    wall, cpu = clock.take(wall_s=10.0, cpu_s=4.0)
    assert 0 < wall['student'] < 1.0 and 0 <= cpu['student'] < 1.0  # ms
    assert wall['other'] == pytest.approx(10.0e3 - wall['student'])
    assert cpu['other'] == pytest.approx(4.0e3 - cpu['student'])
    assert clock.take(wall_s=0.0)[0]['student'] == 0  # take() starts a new step


def test_rejects_a_config_without_teacher():
    with pytest.raises(ValueError, match='distillation config'):
        build_bench('configs/quickstart/fcn_r18-w8_toy-cityscapes.py', 1, None)
