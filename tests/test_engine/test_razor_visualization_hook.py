"""RazorVisualizationHook (mmrazor's arguments) writes PNGs of recorded
features during a validation and a test run of a tiny distillation model."""
import os.path as osp

import pytest
from mmengine.config import Config

from cankd.registry import HOOKS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEG_CFG = osp.join(ROOT, 'configs', 'quickstart', 'cankd_fcn_r18w32-r18w8_toy-cityscapes.py')
MMRAZOR_VIS = osp.join(ROOT, 'tests', 'fixtures', 'mmrazor_configs', 'mmdet', 'cwd',
                       'cwd_fpn_retina_r101_retina_r50_1x_coco_visualization.py')


def _hook(**kwargs):
    cfg = dict(_scope_='cankd', type='RazorVisualizationHook', enabled=True,
               recorders=dict(bb=dict(type='ModuleOutputs', source='architecture.backbone')),
               mappings=dict(c4=dict(recorder='bb', data_idx=3),
                             c3=dict(recorder='bb', data_idx=2)),
               data_idx=[0, 1], out_dir='vis')
    cfg.update(kwargs)
    return cfg


@pytest.fixture(scope='module')
def toy_data(tmp_path_factory):
    from cankd.datasets import make_toy_cityscapes
    root = tmp_path_factory.mktemp('toy_cs')
    make_toy_cityscapes(str(root), num_train=1, num_val=2, img_size=(128, 64))
    return str(root)


def _runner(toy_data, work_dir, hook):
    from mmengine.runner import Runner

    from cankd.utils.model_inspect import register_all
    register_all()
    cfg = Config.fromfile(SEG_CFG)
    cfg.model.teacher_ckpt = None
    cfg.work_dir = str(work_dir)
    for split in ('val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.update(batch_size=1, num_workers=0, persistent_workers=False)
        loader.dataset.data_root = toy_data
    cfg.default_hooks.visualization = hook
    cfg.default_hooks.logger.interval = 1
    # mmengine keeps one visualizer per name: a fresh one writes under this work_dir
    cfg.visualizer.name = f'razor_vis_{osp.basename(str(work_dir))}'
    return Runner.from_cfg(cfg)


def test_val_and_test_runs_write_pngs(toy_data, tmp_path):
    runner = _runner(toy_data, tmp_path, _hook())
    runner.val()
    runner.test()
    hook = next(h for h in runner.hooks if type(h).__name__ == 'RazorVisualizationHook')
    out_dir = osp.join(str(tmp_path), runner.timestamp, 'vis')
    names = sorted(osp.basename(p) for p in hook.written)
    assert names == sorted(f'{stage}_data_idx_{i}_{m}_0.png' for stage in ('val', 'test')
                           for i in (0, 1) for m in ('c3', 'c4'))
    for name in names:
        path = osp.join(out_dir, name)
        with open(path, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n', path


def test_topk_channels_and_norm(toy_data, tmp_path):
    hook = _hook(data_idx=0, mappings=dict(c4=dict(recorder='bb', data_idx=3)), use_norm=True,
                 is_overlaid=False,
                 visualization_cfg=dict(channel_reduction=None, topk=4, arrangement=(2, 2)))
    runner = _runner(toy_data, tmp_path, hook)
    runner.val()
    hook = next(h for h in runner.hooks if type(h).__name__ == 'RazorVisualizationHook')
    assert [osp.basename(p) for p in hook.written] == ['val_data_idx_0_c4_0.png']
    assert osp.getsize(hook.written[0]) > 0


def test_disabled_draws_nothing(toy_data, tmp_path):
    runner = _runner(toy_data, tmp_path, _hook(enabled=False))
    runner.val()
    hook = next(h for h in runner.hooks if type(h).__name__ == 'RazorVisualizationHook')
    assert hook.written == []


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"mappings.c4.recorder 'nope' is not in recorders; "
                                         r"valid: \['bb'\]"):
        HOOKS.build(_hook(mappings=dict(c4=dict(recorder='nope'))))
    with pytest.raises(ValueError, match=r"mappings.c4: unknown key\(s\) \['idx'\]"):
        HOOKS.build(_hook(mappings=dict(c4=dict(recorder='bb', idx=1))))
    with pytest.raises(ValueError, match="channel_reduction 'maxx' is not one of"):
        HOOKS.build(_hook(visualization_cfg=dict(channel_reduction='maxx')))


def test_mmrazor_visualization_config_builds_the_hook():
    """mmrazor's cwd_fpn_retina ..._visualization.py, scope changed only."""
    cfg = Config.fromfile(MMRAZOR_VIS)
    hook = HOOKS.build(cfg.default_hooks.visualization)
    assert type(hook).__name__ == 'RazorVisualizationHook'
    assert sorted(hook.mappings) == ['p3', 'p4', 'p5', 'p6']
    assert hook.recorder_manager.get_recorder('neck').source == 'architecture.neck'


def test_training_run_draws_before_training_and_after_validation(toy_data, tmp_path):
    """mmrazor draws before training and after training epochs; an
    iteration-based run also after each validation."""
    from mmengine.runner import Runner
    runner = _runner(toy_data, tmp_path, _hook(data_idx=0, mappings=dict(
        c4=dict(recorder='bb', data_idx=3))))
    cfg = runner.cfg
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.data_root = toy_data
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    hook = next(h for h in runner.hooks if type(h).__name__ == 'RazorVisualizationHook')
    # mmengine ends an iteration-based loop with after_train_epoch (epoch 0)
    assert [osp.basename(p) for p in hook.written] == [
        'before_run_data_idx_0_c4_0.png', 'val_iter_2_data_idx_0_c4_0.png',
        'epoch_0_data_idx_0_c4_0.png']


def test_without_out_dir_images_go_to_the_visualizer_backends(toy_data, tmp_path):
    import glob
    runner = _runner(toy_data, tmp_path, _hook(
        out_dir=None, data_idx=0, mappings=dict(c4=dict(recorder='bb', data_idx=3))))
    runner.val()
    saved = glob.glob(osp.join(str(tmp_path), '**', 'vis_image', '*.png'), recursive=True)
    assert [osp.basename(p) for p in saved] == ['val_data_idx_0_c4_0_0.png'], saved
