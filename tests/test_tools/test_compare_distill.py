"""tools/analysis_tools/compare_distill.py and cankd.apis.compare / stage_pool:
the feature-vs-head and one-vs-two-teacher comparisons on toy COCO.

Fast: the plan (teachers first, rows seed by seed, shared rows once), the
stage pool's order / needs / cache, teacher checkpoints reaching single- and
multi-teacher configs, the summary's paired gains and table, and each
comparison config taking a training step with its teacher(s) frozen. Slow:
the tool in --quick mode (the two-teacher comparison) writes table, JSON and
PNG and --report-only reads them back."""
import json
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from cankd.apis import compare
from cankd.apis.quickstart import REPO
from cankd.apis.stage_pool import run_plan
from cankd.registry import MODELS
from cankd.testing import demo_det_batch


def test_plan_trains_teachers_first_then_rows_seed_by_seed(tmp_path):
    rows = ['student', 'cankd', 'crosskd', 'cankd_crosskd', 'cankd_teacher_seed1',
            'cankd_2teachers']
    plan = compare._plan(str(tmp_path), rows, 2, 'data/x', False, 750, False)
    names = [s['name'] for s in plan]
    assert names[:2] == ['teacher', 'teacher_seed1']
    assert names[2:8] == [f'compare/{r}_750iters_seed0' for r in rows]
    assert names[8:] == [f'compare/{r}_750iters_seed1' for r in rows]
    assert by_name_needs(plan, 'compare/cankd_teacher_seed1_750iters_seed0') == \
        ['teacher_seed1']
    by_name = {s['name']: s for s in plan}
    two = by_name['compare/cankd_2teachers_750iters_seed1']
    assert two['needs'] == ['teacher', 'teacher_seed1']
    assert by_name['compare/student_750iters_seed0']['needs'] == []
    # teachers keep their configs' schedule and seeds; rows get max_iters
    assert by_name['teacher_seed1']['seed'] == 1 and by_name['teacher_seed1']['max_iters'] is None
    assert by_name['compare/crosskd_750iters_seed1']['seed'] == 1
    assert by_name['compare/crosskd_750iters_seed1']['max_iters'] == 750
    assert by_name['teacher']['work_dir'] == osp.join(str(tmp_path), 'teacher')


def by_name_needs(plan, name):
    return next(s['needs'] for s in plan if s['name'] == name)


def _fake_stage(stage, needed):
    return dict(name=stage['name'], needed=sorted(needed))


def test_run_plan_order_and_needs(tmp_path):
    plan = [dict(name='t', needs=[]), dict(name='a', needs=['t']), dict(name='b', needs=[])]
    results = run_plan(plan, _fake_stage)
    assert list(results) == ['t', 'a', 'b']
    assert results['a'] == dict(name='a', needed=['t'])
    assert results['b'] == dict(name='b', needed=[])
    with pytest.raises(ValueError, match=r"need \['x'\]"):
        run_plan([dict(name='a', needs=['x'])], _fake_stage)


def test_a_cached_stage_of_another_schedule_is_refused(tmp_path):
    """``--max-iters`` changed between runs: the finished 750-iteration stage
    must not be reported as a 1500-iteration one."""
    from cankd.apis.quickstart import check_cached_schedule
    check_cached_schedule(dict(max_iters=750), 'r.json', 750)
    with pytest.raises(ValueError, match='r.json is a finished run of 750 iterations, but '
                                         '1500 were asked for'):
        check_cached_schedule(dict(max_iters=750), 'r.json', 1500)
    # results written before max_iters was recorded: read from the checkpoint name
    with pytest.raises(ValueError, match='of 600 iterations'):
        check_cached_schedule(dict(checkpoint='w/iter_600.pth'), 'r.json', 4)
    assert compare.row_stage('cankd', 2) == 'compare/cankd_seed2'
    assert compare.row_stage('cankd', 2, 750) == 'compare/cankd_750iters_seed2'


def test_teacher_checkpoints_reach_single_and_multi_teacher_configs():
    single = Config.fromfile(osp.join(REPO, compare.ROWS['crosskd'][1]))
    compare.set_teacher_checkpoints(single, {None: 'a.pth'})
    assert single.model.teacher_ckpt == 'a.pth'
    multi = Config.fromfile(osp.join(REPO, compare.ROWS['cankd_2teachers'][1]))
    compare.set_teacher_checkpoints(multi, {'seed0': 'a.pth', 'seed1': 'b.pth'})
    assert [t.ckpt for t in multi.model.teachers.values()] == ['a.pth', 'b.pth']
    with pytest.raises(KeyError, match="no teacher 'other'.*seed0"):
        compare.set_teacher_checkpoints(multi, {'other': 'c.pth'})


def _result(metric, seed, params=1000):
    return dict(metric=metric, seed=seed, params=params, train_time_s=10.0)


def test_summary_pairs_gains_by_seed_and_marks_partial(tmp_path):
    results = {'teacher': dict(_result(0.10, 0, 5000), resumed=True)}
    for seed, (s, d) in enumerate([(0.05, 0.07), (0.06, 0.05), (0.07, 0.09)]):
        results[f'compare/student_seed{seed}'] = _result(s, seed)
        results[f'compare/cankd_seed{seed}'] = _result(d, seed)
    results['compare/crosskd_seed0'] = _result(0.08, 0)
    summary = compare.summarize_comparison('head', results, seeds=3, partial=True)
    assert summary['partial'] and summary['teacher_beats_student']
    cankd = summary['rows']['cankd']
    assert cankd['n'] == 3 and cankd['values'] == [0.07, 0.05, 0.09]
    assert math.isclose(cankd['gain'], (0.02 - 0.01 + 0.02) / 3)
    assert cankd['wins'] == 2 and cankd['paired'] == 3
    crosskd = summary['rows']['crosskd']
    assert crosskd['n'] == 1 and math.isclose(crosskd['gain'], 0.03)  # seed 0 only
    assert summary['rows']['cankd_crosskd']['n'] == 0
    table = compare.format_table(summary)
    assert table.startswith('PARTIAL')
    assert '| CanKD (FPN) | 0.00M | 0.0700 ± 0.0200 (n=3) | 0.0700, 0.0500, 0.0900 |' in table
    assert '| CanKD (FPN) + CrossKD (head) | - | not run yet |' in table
    # a resumed stage's train time is its last part's: said
    assert '| 0.1000 | - | - | 10 s (resumed: last part only) |' in table
    path = str(tmp_path / 'head.png')
    compare.plot_comparison(summary, path)
    assert open(path, 'rb').read(8) == b'\x89PNG\r\n\x1a\n'
    # no gap: said in the table
    results['teacher'] = _result(0.06, 0)
    summary = compare.summarize_comparison('head', results, seeds=3)
    assert not summary['teacher_beats_student']
    assert 'NOT above the student alone' in compare.format_table(summary)


@pytest.mark.parametrize('row', ['cankd', 'crosskd', 'cankd_crosskd', 'cankd_2teachers'])
def test_comparison_config_trains_a_step_with_frozen_teachers(row):
    cfg = Config.fromfile(osp.join(REPO, compare.ROWS[row][1]))
    compare.set_teacher_checkpoints(cfg, {name: None for name in compare.ROWS[row][2]})
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.train()
    teachers = list(model.teachers.values()) if hasattr(model, 'teachers') else [model.teacher]
    before = [{k: v.clone() for k, v in t.state_dict().items()} for t in teachers]
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    log_vars = model.train_step(demo_det_batch(batch_size=2, size=(64, 64), num_classes=5),
                                optim)
    names = {f'distill.{n}' for n in model.distiller.distill_losses}
    assert names <= set(log_vars)
    assert all(math.isfinite(float(log_vars[n])) for n in names)
    assert ('distill.loss_cls_kd' in names) == ('crosskd' in row)
    assert any(n.startswith('distill.loss_cankd') for n in names) == ('cankd' in row)
    for teacher, state in zip(teachers, before):
        for key, value in teacher.state_dict().items():
            assert torch.equal(value, state[key]), key


@pytest.mark.slow
def test_quick_comparison_writes_outputs_and_reports(run_tool, tmp_path):
    work_dir = tmp_path / 'det'
    args = ('teachers', '--quick', '--seeds', '1', '--work-dir', work_dir,
            '--data-root', tmp_path / 'data')
    out = run_tool('analysis_tools/compare_distill.py', *args)
    summary = json.loads((work_dir / 'compare' / 'teachers.json').read_text())
    assert list(summary['rows']) == ['student', 'cankd', 'cankd_teacher_seed1',
                                     'cankd_2teachers']
    assert list(summary['teachers']) == ['teacher', 'teacher_seed1']
    assert all(r['n'] == 1 for r in summary['rows'].values()) and not summary['partial']
    assert (work_dir / 'compare' / 'teachers.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert '| CanKD (FPN), two teachers |' in out
    assert (work_dir / 'compare' / 'teachers.md').read_text() in out
    # the two-teacher stage read both teachers' checkpoints
    with open(summary['runs']['compare/cankd_2teachers_seed0']['log_file']) as f:
        log = f.read()
    assert 'teacher/iter_4.pth' in log and 'teacher_seed1/iter_4.pth' in log
    out = run_tool('analysis_tools/compare_distill.py', 'teachers', 'head', '--report-only',
                   '--seeds', '1', '--work-dir', work_dir)
    assert 'PARTIAL' in out and '| CrossKD (head) | - | not run yet |' in out
