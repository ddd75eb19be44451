"""The quickstart's console (issue 17, item 10): one progress line per stage,
mmengine's stream kept in the stage's log file; ``verbose`` restores it."""
import json

import pytest

from mmengine.config import Config

from cankd.apis.quickstart import run_stage
from cankd.utils.data_check import DatasetError


def _cfg(path, work_dir, name):
    cfg = Config.fromfile(path)
    cfg.work_dir = str(work_dir)
    cfg.visualizer.name = f'qs_console_{name}'  # a per-name singleton, as in the quickstart
    cfg.train_cfg.val_interval = 100  # no validation during these 2 iterations: test only
    return cfg


def test_quiet_stage_prints_progress_and_keeps_the_log(tiny_fcn_config, tmp_path, capsys):
    result = run_stage('teacher', _cfg(tiny_fcn_config, tmp_path / 'quiet', 'quiet'), 'mIoU',
                       'mIoU', label='[1/3] teacher')
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert lines[0].startswith('[quickstart] teacher: training 2 iterations')
    assert lines[-2].startswith('[1/3] teacher [####################] 2/2') and 'mIoU' in lines[-2]
    assert lines[-1].strip() == f"log: {result['log_file']}"
    assert len(lines) <= 6 and out.err == ''  # no hooks table, config dump, class table
    with open(result['log_file']) as f:
        log = f.read()
    assert 'Hooks will be executed' in log and 'Iter(train) [2/2]' in log and 'per class' in log
    saved = json.loads((tmp_path / 'quiet' / 'result.json').read_text())
    assert saved['log_file'] == result['log_file']


def test_failed_stage_names_its_log(tiny_fcn_config, tmp_path, capsys):
    cfg = _cfg(tiny_fcn_config, tmp_path / 'failed', 'failed')
    (tmp_path / 'empty' / 'leftImg8bit' / 'train').mkdir(parents=True)
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'empty')
    with pytest.raises(DatasetError, match=r'train dataset .* is empty \(0 samples\)'):
        run_stage('teacher', cfg, 'mIoU', label='[1/3] teacher')
    out = capsys.readouterr()
    assert out.out.splitlines()[-1].endswith('failed')
    assert '[quickstart] teacher failed' in out.err
    assert f'[quickstart] full log: {tmp_path / "failed"}' in out.err


@pytest.mark.slow
def test_verbose_stage_streams_mmengine(tiny_fcn_config, tmp_path, capsys):
    run_stage('teacher', _cfg(tiny_fcn_config, tmp_path / 'verbose', 'verbose'), 'mIoU',
              verbose=True)
    out = capsys.readouterr().out
    assert 'Iter(train) [2/2]' in out and '[####' not in out
