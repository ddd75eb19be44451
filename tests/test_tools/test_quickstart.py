"""tools/quickstart.py in its reduced mode (a few iterations): the whole story runs,
summary.json holds finite metrics for all three models, and a rerun is restartable."""
import json
import math

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize('task, metric', [('seg', 'mIoU'), ('det', 'bbox mAP')])
def test_quick_quickstart_writes_summary_and_restarts(task, metric, run_tool, tmp_path):
    work_dir = tmp_path / 'qs'
    args = ('--task', task, '--quick', '--work-dir', work_dir, '--data-root', tmp_path / 'data')
    out = run_tool('quickstart.py', *args)
    summary = json.loads((work_dir / 'summary.json').read_text())
    assert summary['metric'] == metric
    runs = summary['runs']
    assert set(runs) == {'teacher', 'student_seed0', 'cankd_seed0'}
    for name, run in runs.items():
        assert math.isfinite(run['metric']), name
        assert run['params'] > 0 and run['train_time_s'] > 0
        # each stage's own validation curve (iterations 2 and 4), not another stage's;
        # a 4-iteration detector may detect nothing, and CocoMetric then logs no mAP
        steps = [step for step, _ in run['val_curve']]
        assert steps == [2, 4] if task == 'seg' else set(steps) <= {2, 4}, name
    assert runs['teacher']['params'] > runs['student_seed0']['params']
    assert runs['student_seed0']['params'] == runs['cankd_seed0']['params']
    assert (work_dir / 'val_curve.png').stat().st_size > 1000
    assert 'student + CanKD' in out
    # The newcomer's console: progress lines and the table, not mmengine's stream,
    # whose whole log stays in each stage's work dir.
    assert 'Iter(train)' not in out and 'Hooks will be executed' not in out, out
    assert len(out.splitlines()) < 60, out
    assert '[3/3] cankd_seed0' in out and '\r' not in out  # not a terminal: whole lines
    for name, run in runs.items():
        with open(run['log_file']) as f:  # absolute: mmengine's log_dir
            assert 'Iter(train) [4/4]' in f.read(), name
        assert f"log: {run['log_file']}" in out, name

    # Interrupted after the distilled student's checkpoint, before its result:
    # a rerun reuses the finished stages and resumes the unfinished one.
    (work_dir / 'cankd_seed0' / 'result.json').unlink()
    out = run_tool('quickstart.py', *args)
    assert '[quickstart] teacher: reusing' in out
    assert '[quickstart] student_seed0: reusing' in out
    assert 'cankd_seed0: training' in out and '(resuming)' in out
    assert json.loads((work_dir / 'cankd_seed0' / 'result.json').read_text())['resumed']
