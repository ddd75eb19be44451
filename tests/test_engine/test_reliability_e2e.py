"""Issue 17 end to end: real ``tools/train.py`` processes, killed with SIGKILL
at chosen points by a hook the test writes, then resumed."""
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from cankd.utils import safe_load

pytestmark = pytest.mark.slow
TRAIN = Path(__file__).resolve().parents[2] / 'tools' / 'train.py'

KILLER = '''
import os
import signal

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module(force=True)
class KillAt(Hook):
    """SIGKILL this process at ``stage`` when ``runner.iter == at``."""

    def __init__(self, stage, at):
        self.stage, self.at = stage, at
        setattr(self, stage, self._maybe_kill)

    def _maybe_kill(self, runner, *args, **kwargs):
        if runner.iter == self.at:
            os.kill(os.getpid(), signal.SIGKILL)
'''

DISTILL = '''
_base_ = {base!r}
model = dict(
    _delete_=True, _scope_='cankd', type={algorithm!r},
    architecture=dict(cfg_path={base!r}), teacher=dict(cfg_path={base!r}),
    teacher_ckpt={ckpt!r},
    distiller=dict(
        type='ConfigurableDistiller',
        student_recorders=dict(feat=dict(type='ModuleOutputs', source={source!r})),
        teacher_recorders=dict(feat=dict(type='ModuleOutputs', source={source!r})),
        distill_losses=dict(loss_cankd=dict(type='CanKDLoss', in_channels={channels})),
        loss_forward_mappings=dict(loss_cankd=dict(
            s_feature=dict(from_student=True, recorder='feat', data_idx=0),
            t_feature=dict(from_student=False, recorder='feat', data_idx=0)))))
find_unused_parameters = True
train_cfg = dict(max_iters=4, val_interval=2)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False))
'''


def _teacher_ckpt(config: str, path: Path) -> str:

    from cankd.models.algorithms.build import build_submodel
    model = build_submodel(dict(cfg_path=config))
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return str(path)


@pytest.fixture(scope='module')
def configs(tmp_path_factory, tiny_fcn_config, tiny_retinanet_config):
    """Distillation configs (teacher = a saved random init; the seg one keeps the
    decode head's dropout, the case mmengine's re-seeding got wrong)."""
    from mmdet.utils import register_all_modules as mmdet_modules
    from mmseg.utils import register_all_modules as mmseg_modules
    mmdet_modules(init_default_scope=False)
    mmseg_modules(init_default_scope=False)
    tmp = tmp_path_factory.mktemp('reliability')
    (tmp / 'killer.py').write_text(KILLER)
    out = {'dir': tmp}
    for task, base, algorithm, source, channels in (
            ('seg', tiny_fcn_config, 'SingleTeacherDistill', 'backbone', 128),
            ('det', tiny_retinanet_config, 'FpnTeacherDistill', 'neck', 32)):
        ckpt = _teacher_ckpt(base, tmp / f'{task}_teacher.pth')
        path = tmp / f'{task}_kd.py'
        path.write_text(DISTILL.format(base=base, algorithm=algorithm, ckpt=ckpt, source=source,
                                       channels=channels))
        out[task] = str(path)
    return out


def _train(config: str, work_dir: Path, *args, kill=None, expect=0) -> str:
    """Run tools/train.py; ``kill=(stage, iter)`` SIGKILLs it there."""
    if kill is not None:
        killed = work_dir.parent / f'{work_dir.name}_kill_{kill[0]}_{kill[1]}.py'
        killed.write_text(textwrap.dedent(f'''
            _base_ = {config!r}
            custom_imports = dict(imports=['killer'], allow_failed_imports=False)
            custom_hooks = [dict(type='KillAt', stage={kill[0]!r}, at={kill[1]})]
            '''))
        config = str(killed)
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', MPLBACKEND='Agg',
               PYTHONPATH=str(work_dir.parent) + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run([sys.executable, str(TRAIN), config, '--work-dir', str(work_dir),
                           *map(str, args)], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600)
    if expect is not None and proc.returncode != expect:
        pytest.fail(f'train.py exited {proc.returncode}, expected {expect}:\n'
                    f'{proc.stdout[-5000:]}')
    return proc.stdout


def _weights(path: Path) -> dict:
    return safe_load(path)['state_dict']


@pytest.mark.parametrize('task', ['seg', 'det'])
def test_kill_and_resume_equals_the_uninterrupted_run(configs, task):
    root = configs['dir']
    straight, killed = root / f'{task}_straight', root / f'{task}_killed'
    _train(configs[task], straight)
    # SIGKILL as the 3rd iteration starts: after iter_2.pth and the val at 2.
    _train(configs[task], killed, kill=('before_train_iter', 2), expect=-9)
    assert (killed / 'iter_2.pth').is_file() and not (killed / 'iter_4.pth').exists()
    out = _train(configs[task], killed, '--resume')
    assert 'resumed epoch: 0, iter: 2' in out
    a, b = _weights(straight / 'iter_4.pth'), _weights(killed / 'iter_4.pth')
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f'{len(differ)} tensors differ after resume, e.g. {differ[:3]}'


def test_kill_during_the_final_validation_then_resume_runs_it(configs):
    work = configs['dir'] / 'final_val'
    _train(configs['seg'], work, kill=('before_val', 4), expect=-9)
    assert (work / 'iter_4.pth').is_file()
    out = _train(configs['seg'], work, '--resume')
    assert 'running its final validation' in out
    assert 'mIoU:' in out.split('running its final validation')[1]


def test_kill_while_saving_with_max_keep_ckpts_1_keeps_the_previous(configs):
    work = configs['dir'] / 'keep_one'
    keep_one = ('default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=1')
    # runner.iter is 1 while iteration 2 saves iter_2.pth.
    _train(configs['seg'], work, '--cfg-options', *keep_one,
           kill=('before_save_checkpoint', 1), expect=-9)
    assert sorted(p.name for p in work.glob('iter_*.pth')) == ['iter_1.pth']
    assert (work / 'last_checkpoint').read_text().strip().endswith('iter_1.pth')
    out = _train(configs['seg'], work, '--resume', '--cfg-options', *keep_one)
    assert 'resumed epoch: 0, iter: 1' in out
    assert sorted(p.name for p in work.glob('iter_*.pth')) == ['iter_4.pth']


def test_empty_last_checkpoint_and_stale_temporary_on_resume(configs):
    work = configs['dir'] / 'pointer'
    shutil.copytree(configs['dir'] / 'seg_straight', work) if (
        configs['dir'] / 'seg_straight').exists() else _train(configs['seg'], work)
    (work / 'last_checkpoint').write_text('')
    stale = work / '.tmp-cankd-999999999-x1y2.pth'
    stale.write_bytes(b'PK\x03\x04 half a checkpoint')
    out = _train(configs['seg'], work, '--resume', '--cfg-options', 'train_cfg.max_iters=6')
    assert 'last_checkpoint is empty; resuming from the newest complete checkpoint' in out
    assert 'resumed epoch: 0, iter: 4' in out
    assert f'removed {stale}' in out and not stale.exists()
    assert (work / 'iter_6.pth').stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_divergence_stops_the_run_naming_the_term(configs):
    work = configs['dir'] / 'nan'
    out = _train(configs['seg'], work, '--cfg-options',
                 'model.distiller.distill_losses.loss_cankd.loss_weight=nan', expect=1)
    assert 'NonFiniteLossError: iteration 1: not finite: ' in out
    assert 'distill.loss_cankd=nan' in out
    assert not list(work.glob('*.pth'))


def test_huge_learning_rate_never_saves_nonfinite_weights(configs):
    work = configs['dir'] / 'huge_lr'
    out = _train(configs['seg'], work, '--cfg-options', 'optim_wrapper.optimizer.lr=1e12',
                 'default_hooks.checkpoint.interval=1', 'train_cfg.max_iters=8', expect=None)
    assert 'NonFiniteLossError' in out, out[-3000:]
    for path in work.glob('iter_*.pth'):
        for name, value in _weights(path).items():
            if value.is_floating_point():
                assert torch.isfinite(value).all(), f'{path.name}: {name}'
