"""End-to-end checks of tools/train.py and tools/test.py on CPU-sized configs.

The training runs are real subprocesses (``python tools/train.py ...``), as a
user would start them; option handling is also checked in-process.
"""
import importlib.util
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from cankd.utils.checkpoint import safe_load

TOOLS = Path(__file__).resolve().parents[2] / 'tools'


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f'cankd_tools_{name}', TOOLS / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def trained(tiny_retinanet_config, run_tool, tmp_path_factory):
    """tools/train.py for 2 iterations; (work_dir, stdout)."""
    work_dir = tmp_path_factory.mktemp('train')
    out = run_tool('train.py', tiny_retinanet_config, '--work-dir', work_dir)
    return work_dir, out


@pytest.fixture(scope='module')
def resumed(trained, tiny_retinanet_config, run_tool, tmp_path_factory):
    """A copy of ``trained``'s work_dir auto-resumed up to 4 iterations."""
    work_dir = tmp_path_factory.mktemp('resume') / 'w'
    shutil.copytree(trained[0], work_dir)
    out = run_tool('train.py', tiny_retinanet_config, '--work-dir', work_dir, '--resume',
                   '--cfg-options', 'train_cfg.max_iters=4')
    return work_dir, out


@pytest.mark.slow
def test_train_writes_checkpoints_and_evaluates(trained):
    work_dir, out = trained
    assert (work_dir / 'iter_2.pth').is_file()
    assert Path((work_dir / 'last_checkpoint').read_text().strip()) == work_dir / 'iter_2.pth'
    assert 'Iter(train) [2/2]' in out and 'Iter(train) [3/' not in out
    assert 'coco/bbox_mAP:' in out  # val_interval=2: COCO evaluation after iter 2
    ckpt = safe_load(work_dir / 'iter_2.pth')
    assert ckpt['meta']['iter'] == 2
    assert any(k.startswith('backbone.') for k in ckpt['state_dict'])


@pytest.mark.slow
def test_plain_torch_load_refuses_mmengine_checkpoint(trained):
    # Why cankd installs its own loader: torch >= 2.6 defaults to
    # weights_only=True, and the message_hub in every mmengine checkpoint
    # (HistoryBuffer, numpy arrays) is refused.
    with pytest.raises(pickle.UnpicklingError):
        torch.load(trained[0] / 'iter_2.pth')


@pytest.mark.slow
def test_resume_continues_from_last_checkpoint(resumed):
    work_dir, out = resumed
    assert 'resumed epoch: 0, iter: 2' in out
    assert 'Iter(train) [3/4]' in out and 'Iter(train) [4/4]' in out
    assert 'Iter(train) [1/4]' not in out
    assert safe_load(work_dir / 'iter_4.pth')['meta']['iter'] == 4
    assert (work_dir / 'last_checkpoint').read_text().strip().endswith('iter_4.pth')


@pytest.mark.slow
def test_test_py_prints_map_dumps_predictions_and_draws(resumed, tiny_retinanet_config,
                                                        run_tool, tmp_path):
    work_dir = resumed[0]
    res = tmp_path / 'out' / 'res.pkl'
    out = run_tool('test.py', tiny_retinanet_config, work_dir / 'iter_4.pth', '--work-dir',
                   tmp_path, '--out', res, '--show-dir', tmp_path / 'vis')
    assert 'Load checkpoint from' in out and 'iter_4.pth' in out
    assert 'coco/bbox_mAP:' in out
    with open(res, 'rb') as f:
        preds = pickle.load(f)
    assert sorted(p['img_id'] for p in preds) == [1, 2, 3, 4]
    assert all(p['pred_instances']['bboxes'].shape[-1] == 4 for p in preds)
    assert 'gt_instances' not in preds[0]  # DumpDetResults drops ground truth
    assert [p.name for p in res.parent.iterdir()] == ['res.pkl']  # temp file renamed away
    assert len(list((tmp_path / 'vis').glob('*.png'))) == 4


@pytest.mark.slow
def test_load_from_starts_a_new_run_from_weights(trained, tiny_retinanet_config, run_tool,
                                                 tmp_path):
    ckpt = trained[0] / 'iter_2.pth'
    out = run_tool('train.py', tiny_retinanet_config, '--work-dir', tmp_path,
                   '--cfg-options', f'load_from={ckpt}')
    assert f'Load checkpoint from {ckpt}' in out
    assert 'resumed' not in out and 'Iter(train) [1/2]' in out
    assert safe_load(tmp_path / 'iter_2.pth')['meta']['iter'] == 2


DISTILL_CFG = """
_base_ = {base!r}
model = dict(
    _delete_=True, _scope_='cankd', type='FpnTeacherDistill',
    architecture={{{{_base_.model}}}}, teacher={{{{_base_.model}}}}, teacher_ckpt={ckpt!r},
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        distill_losses={{f'loss_cankd_fpn{{i}}': dict(type='CanKDLoss', in_channels=32,
                                                    loss_weight=10) for i in range(3)}},
        loss_forward_mappings={{
            f'loss_cankd_fpn{{i}}': dict(
                s_feature=dict(from_student=True, recorder='fpn', data_idx=i),
                t_feature=dict(from_student=False, recorder='fpn', data_idx=i))
            for i in range(3)}}))
find_unused_parameters = True
"""


@pytest.mark.slow
def test_train_distillation_config(trained, tiny_retinanet_config, run_tool, tmp_path):
    # A cankd algorithm (scope 'cankd') around mmdet models, with the
    # teacher loaded from an mmengine checkpoint through the safe loader.
    cfg = tmp_path / 'distill.py'
    cfg.write_text(DISTILL_CFG.format(base=tiny_retinanet_config,
                                      ckpt=str(trained[0] / 'iter_2.pth')))
    out = run_tool('train.py', cfg, '--work-dir', tmp_path / 'w')
    assert 'Iter(train) [2/2]' in out and 'distill.loss_cankd_fpn2:' in out
    assert 'coco/bbox_mAP:' in out
    state = safe_load(tmp_path / 'w' / 'iter_2.pth')['state_dict']
    assert any(k.startswith('architecture.') for k in state)


@pytest.mark.slow
def test_segmentation_train_and_test(tiny_fcn_config, run_tool, tmp_path):
    out = run_tool('train.py', tiny_fcn_config, '--work-dir', tmp_path)
    assert 'Iter(train) [2/2]' in out and 'decode.loss_ce' in out
    out = run_tool('test.py', tiny_fcn_config, tmp_path / 'iter_2.pth', '--work-dir', tmp_path,
                   '--out', tmp_path / 'seg.pkl', '--show-dir', tmp_path / 'vis')
    assert 'mIoU:' in out
    with open(tmp_path / 'seg.pkl', 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 4 and preds[0]['pred_sem_seg']['data'].shape == (1, 64, 64)
    assert len(list((tmp_path / 'vis').rglob('*.png'))) == 4  # SegVisualizationHook interval 1


# --------------------------------------------------------------------------- #
# Option handling, in-process (no runner is built)
# --------------------------------------------------------------------------- #
@pytest.fixture
def train_tool(monkeypatch):
    monkeypatch.setenv('LOCAL_RANK', '0')  # parse_args sets it when absent
    return _load_tool('train')


@pytest.fixture
def test_tool(monkeypatch):
    monkeypatch.setenv('LOCAL_RANK', '0')
    return _load_tool('test')


def test_resume_and_work_dir_options(train_tool, tiny_retinanet_config):
    tool = train_tool

    def cfg_of(*argv):
        return tool.build_config(tool.parse_args([tiny_retinanet_config, *argv]))

    cfg = cfg_of()
    assert cfg.work_dir == './work_dirs/tiny_retinanet' and cfg.launcher == 'none'
    assert cfg.resume is False and cfg.load_from is None
    cfg = cfg_of('--resume')
    assert cfg.resume is True and cfg.load_from is None
    cfg = cfg_of('--resume', 'x/iter_2.pth', '--work-dir', 'w')
    assert cfg.resume is True and cfg.load_from == 'x/iter_2.pth' and cfg.work_dir == 'w'
    cfg = cfg_of('--auto-scale-lr', '--cfg-options', 'train_cfg.max_iters=7')
    assert cfg.auto_scale_lr.enable is True and cfg.train_cfg.max_iters == 7


def test_auto_scale_lr_needs_config_entry(train_tool, tiny_retinanet_config, tmp_path):
    cfg = tmp_path / 'no_scale.py'
    cfg.write_text(f'_base_ = {tiny_retinanet_config!r}\nauto_scale_lr = None\n')
    with pytest.raises(SystemExit, match='base_batch_size'):
        train_tool.build_config(train_tool.parse_args([str(cfg), '--auto-scale-lr']))


def test_amp_on_cpu_sets_bf16_autocast_wrapper(train_tool, tiny_retinanet_config,
                                               monkeypatch):
    monkeypatch.setattr(train_tool, 'has_amp_device', lambda: False)
    cfg = train_tool.build_config(train_tool.parse_args([tiny_retinanet_config, '--amp']))
    assert cfg.optim_wrapper.type == 'cankd.CPUAmpOptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason='trains with bf16 autocast on CPU')
def test_amp_trains_on_cpu(tiny_retinanet_config, run_tool, tmp_path):
    out = run_tool('train.py', tiny_retinanet_config, '--amp', '--work-dir', tmp_path)
    assert 'bfloat16 autocast on CPU' in out and 'Iter(train) [2/2]' in out
    assert 'loss: nan' not in out and 'loss: inf' not in out


def test_amp_sets_amp_optim_wrapper(train_tool, tiny_retinanet_config, monkeypatch):
    monkeypatch.setattr(train_tool, 'has_amp_device', lambda: True)
    cfg = train_tool.build_config(train_tool.parse_args([tiny_retinanet_config, '--amp']))
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.optim_wrapper.optimizer.type == 'SGD'


def test_missing_checkpoint_is_named_before_anything_is_built(test_tool,
                                                              tiny_retinanet_config,
                                                              tmp_path, monkeypatch):
    def must_not_run():
        raise AssertionError('registries filled before the checkpoint was checked')

    monkeypatch.setattr(test_tool, 'register_all', must_not_run)
    missing = tmp_path / 'absent' / 'iter_9.pth'
    with pytest.raises(SystemExit, match=f'checkpoint not found: {missing}'):
        test_tool.main([tiny_retinanet_config, str(missing)])
    with pytest.raises(SystemExit, match='--out must name a .pkl'):
        test_tool.main([tiny_retinanet_config, tiny_retinanet_config, '--out', 'r.json'])


def test_show_dir_goes_to_the_right_hook_option(test_tool, tiny_retinanet_config,
                                                tiny_fcn_config):
    import mmdet.engine  # noqa: F401  (register the hooks looked up by name)
    import mmseg.engine  # noqa: F401

    args = test_tool.parse_args([tiny_retinanet_config, 'c.pth', '--show-dir', 'vis'])
    det = Config.fromfile(tiny_retinanet_config)
    test_tool.trigger_visualization_hook(det, args)
    assert det.default_hooks.visualization.draw is True
    assert det.default_hooks.visualization.test_out_dir == 'vis'
    seg = Config.fromfile(tiny_fcn_config)
    test_tool.trigger_visualization_hook(seg, args)
    assert 'test_out_dir' not in seg.default_hooks.visualization
    assert seg.visualizer.save_dir == 'vis' and seg.default_hooks.visualization.draw is True
    del seg.default_hooks['visualization']
    with pytest.raises(SystemExit, match='default_hooks.visualization'):
        test_tool.trigger_visualization_hook(seg, args)
