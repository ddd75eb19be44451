import importlib.util
import json
import os.path as osp

import pytest

TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'analysis_tools',
                'benchmark_loss.py')


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('benchmark_loss', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_writes_json_and_png(tool, tmp_path):
    out = tmp_path / 'bench'
    result = tool.main(['--out', str(out), '--shapes', '2x16x12x10', '--threads', '1',
                        '--repeats', '2', '--budget-s', '0.2'])
    data = json.loads((out / 'loss_benchmark.json').read_text())
    assert data == json.loads(json.dumps(result))
    records = data['records']
    assert [(r['case'], r['order']) for r in records] == [
        ('custom0', o) for o in ('auto', 'quadratic', 'linear', 'floor')]
    assert all(r['shape'] == [2, 16, 12, 10] and r['hw'] == 120 for r in records)
    for r in records:
        assert 'error' not in r, r
        assert r['time_ms'] > 0 and r['peak_mem_mb'] > 0 and len(r['times_ms']) == r['runs'] >= 2
    quad, = [r for r in records if r['order'] == 'quadratic']
    assert 0 <= quad['max_rel_err'] < 1e-5
    assert data['summary']['max_rel_err'] < 1e-5
    # 2x16x12x10: C' = 8, HW = 120, N = 30 -> linear is cheaper
    assert records[0]['selected_order'] == 'linear'
    png = out / 'loss_benchmark.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    # softmax NLKD variants side by side with the official evaluation
    variants = data['variants']['records']
    assert [(r['loss'], r['impl']) for r in variants] == [
        (loss, impl) for loss in ('NLKD_IN_Gaussian_Loss', 'NLKD_IN_EBGaussian_Loss')
        for impl in ('ours', 'official')]
    for r in variants:
        assert 'error' not in r, r
        assert r['time_ms'] > 0 and r['peak_mem_mb'] > 0 and r['runs'] >= 2
        assert r['impl'] == 'ours' or r['max_rel_err'] < 1e-4
    assert set(data['variants']['summary']) == {'custom0/gaussian', 'custom0/embedded_gaussian'}
    assert (out / 'nlkd_variants.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert not list(out.glob('.tmp_*'))  # atomic writes leave no temp files


def test_cases(tool):
    quick = tool.build_cases(quick=True, shapes=None)
    assert [c['shape'] for c in quick] == [(2, 256, 100, 168)]
    full = {c['name']: c['shape'] for c in tool.build_cases(quick=False, shapes=None)}
    assert full['P7'] == (2, 256, 7, 11) and full['seg-layer4'] == (2, 2048, 64, 128)
    assert full['200x168'] == (2, 256, 200, 168)


def test_variants_only_cases(tool):
    from cankd.utils.benchmark_nlkd import variant_cases
    full = tool.build_cases(quick=False, shapes=None)
    assert [c['name'] for c in variant_cases(full)] == ['P3', 'seg-layer4']
    args = tool.parse_args(['--out', 'x', '--variants-only'])
    assert args.variants_only and not args.no_variants
