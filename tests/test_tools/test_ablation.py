"""tools/analysis_tools/ablation.py: the CanKD ablation (NLKD family on the seg
quickstart pair). Fast: every variant's loss swaps in and builds with the
quickstart config's arguments. Slow: the tool in --quick mode with 2 variants,
1 seed writes table/PNG/JSON, resumes from its cache (with --jobs 2), and
--report-only."""
import json
import math

import pytest
from mmengine.config import Config

from cankd.apis.ablation import VARIANTS, stage_name, swap_loss
from cankd.apis.quickstart import REPO, TASKS


@pytest.mark.parametrize('variant', list(VARIANTS))
def test_every_variant_swaps_in_and_builds(variant):
    from cankd.registry import MODELS
    cfg = Config.fromfile(f'{REPO}/{TASKS["seg"]["cankd"]}')
    assert swap_loss(cfg, VARIANTS[variant][1]) == 1
    loss_cfg = cfg.model.distiller.distill_losses.loss_cankd
    assert loss_cfg.type == VARIANTS[variant][1]
    loss = MODELS.build(loss_cfg.to_dict())
    assert type(loss).__name__ == VARIANTS[variant][1]
    assert loss.loss_weight == 10
    # the dot product is the quickstart's own CanKD stage (reused), the others apart
    assert stage_name(variant, 2) == ('cankd_seed2' if variant == 'dot'
                                      else f'ablation/{variant}_seed2')


@pytest.mark.slow
def test_quick_ablation_writes_outputs_and_resumes(run_tool, tmp_path):
    work_dir = tmp_path / 'qs'
    args = ('--quick', '--seeds', '1', '--variants', 'dot', 'wo_skip',
            '--work-dir', work_dir, '--data-root', tmp_path / 'data')
    out = run_tool('analysis_tools/ablation.py', *args)
    summary = json.loads((work_dir / 'ablation' / 'summary.json').read_text())
    assert not summary['partial'] and summary['seeds'] == 1
    assert set(summary['runs']) == {'teacher', 'student_seed0', 'cankd_seed0',
                                    'ablation/wo_skip_seed0'}
    assert list(summary['variants']) == ['dot', 'wo_skip']
    for row in summary['variants'].values():
        assert row['n'] == 1 and math.isfinite(row['mean']) and row['train_time_s'] > 0
    assert summary['variants']['wo_skip']['loss_type'] == 'NLKD_WOSkip_Loss'
    # the dot-product run is the quickstart's layout: cankd_seed0 next to the teacher
    assert (work_dir / 'cankd_seed0' / 'result.json').is_file()
    assert (work_dir / 'ablation' / 'ablation.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert '| student + without skip | NLKD_WOSkip_Loss |' in out
    assert '| student alone (R-18 w8) |' in out and '| teacher (R-18 w32) |' in out
    with open(summary['runs']['ablation/wo_skip_seed0']['log_file']) as f:
        assert 'NLKD_WOSkip_Loss' in f.read()  # the config as run names the swapped loss

    # interrupted after the variant's checkpoint, before its result: resumed, here
    # by --jobs 2 (the stage trains in a worker process; cached ones are read)
    (work_dir / 'ablation' / 'wo_skip_seed0' / 'result.json').unlink()
    out = run_tool('analysis_tools/ablation.py', *args, '--jobs', '2')
    for name in ('teacher', 'student_seed0', 'cankd_seed0'):
        assert f'[quickstart] {name}: reusing' in out
    assert 'ablation/wo_skip_seed0: training' in out and '(resuming)' in out
    assert json.loads((work_dir / 'ablation' / 'wo_skip_seed0' / 'result.json')
                      .read_text())['resumed']

    # the table of what is finished, without training: 2 seeds asked, 1 done
    out = run_tool('analysis_tools/ablation.py', '--report-only', '--seeds', '2',
                   '--variants', 'dot', 'wo_skip', '--work-dir', work_dir)
    assert 'PARTIAL' in out and 'training' not in out
    summary = json.loads((work_dir / 'ablation' / 'summary.json').read_text())
    assert summary['partial'] and summary['variants']['dot']['n'] == 1
