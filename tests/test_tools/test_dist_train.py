"""Multi-process training/testing on CPU (gloo) and cankd.utils.setup_cpu_distributed."""
import pickle
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.config import Config

from cankd.utils import setup_cpu_distributed, shutdown_distributed
from cankd.utils.checkpoint import safe_load

needs_cpu_only = pytest.mark.skipif(
    torch.cuda.is_available(), reason='with CUDA, mmengine\'s own launcher path is used')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.slow
@needs_cpu_only
def test_dist_train_and_test_two_processes_on_cpu(tiny_retinanet_config, run_tool, tmp_path):
    work_dir = tmp_path / 'w2'
    out = run_tool('dist_train.sh', tiny_retinanet_config, 2, '--work-dir', work_dir,
                   env=dict(PORT=str(_free_port())))
    assert 'gloo process group, rank 0 of 2' in out  # rank 1 logs errors only
    assert 'Iter(train) [2/2]' in out
    # 4 val images, batch 2: each of the 2 ranks runs 1 val iteration.
    assert 'Iter(val) [1/1]' in out and 'coco/bbox_mAP:' in out
    ckpt = safe_load(work_dir / 'iter_2.pth')
    assert ckpt['meta']['iter'] == 2
    # Saved from the unwrapped model: no DDP 'module.' prefix.
    assert not any(k.startswith('module.') for k in ckpt['state_dict'])

    res = tmp_path / 'res.pkl'
    out = run_tool('dist_test.sh', tiny_retinanet_config, work_dir / 'iter_2.pth', 2,
                   '--out', res, env=dict(PORT=str(_free_port())))
    assert 'Iter(test) [1/1]' in out and 'coco/bbox_mAP:' in out
    with open(res, 'rb') as f:
        preds = pickle.load(f)
    assert sorted(p['img_id'] for p in preds) == [1, 2, 3, 4]  # gathered from both ranks


# --------------------------------------------------------------------------- #
# setup_cpu_distributed, in-process with a world of one
# --------------------------------------------------------------------------- #
@pytest.fixture
def one_process_world(monkeypatch):
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT',
                 'SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID', 'SLURM_NODELIST',
                 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_LOCAL_RANK'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(_free_port()))
    yield monkeypatch
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def _cfg(**extra) -> Config:
    return Config(dict(
        model=dict(type='M', backbone=dict(norm_cfg=dict(type='SyncBN', requires_grad=True)),
                   heads=[dict(norm_cfg=dict(type='MMSyncBN')), dict(norm_cfg=None)]),
        env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=60)), **extra))


def test_launcher_none_changes_nothing():
    cfg = _cfg()
    assert setup_cpu_distributed(cfg, 'none') is False
    assert 'model_wrapper_cfg' not in cfg and cfg.model.backbone.norm_cfg.type == 'SyncBN'
    assert not torch_dist.is_initialized()


def test_unknown_launcher_is_a_value_error():
    with pytest.raises(ValueError, match="launcher must be one of .*'slurm'.*got 'ssh'"):
        setup_cpu_distributed(_cfg(), 'ssh')


@needs_cpu_only
def test_pytorch_launcher_starts_gloo_and_wraps_without_device_ids(one_process_world):
    one_process_world.setenv('RANK', '0')
    one_process_world.setenv('WORLD_SIZE', '1')
    cfg = _cfg(find_unused_parameters=True, sync_bn='torch')
    assert setup_cpu_distributed(cfg, 'pytorch') is True
    assert torch_dist.is_initialized() and torch_dist.get_backend() == 'gloo'
    wrapper = cfg.model_wrapper_cfg
    assert wrapper.type == 'MMDistributedDataParallel' and wrapper.device_ids is None
    assert wrapper.find_unused_parameters is True
    # torch's SyncBatchNorm refuses CPU tensors: every SyncBN config became BN.
    assert cfg.model.backbone.norm_cfg.type == 'BN'
    assert cfg.model.heads[0].norm_cfg.type == 'BN' and cfg.sync_bn is None
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    # Already initialised: a second call is a no-op (as Runner.setup_env).
    assert setup_cpu_distributed(cfg, 'pytorch') is False


@needs_cpu_only
def test_slurm_launcher_reads_slurm_variables_and_keeps_user_wrapper(one_process_world):
    one_process_world.setenv('SLURM_PROCID', '0')
    one_process_world.setenv('SLURM_NTASKS', '1')
    one_process_world.setenv('SLURM_LOCALID', '0')
    cfg = _cfg(model_wrapper_cfg=dict(type='MMDistributedDataParallel',
                                      detect_anomalous_params=True, device_ids=[0]))
    assert setup_cpu_distributed(cfg, 'slurm') is True
    assert torch_dist.get_world_size() == 1 and torch_dist.get_rank() == 0
    assert cfg.model_wrapper_cfg == dict(type='MMDistributedDataParallel',
                                         detect_anomalous_params=True, device_ids=None)


@needs_cpu_only
def test_missing_launcher_variable_is_named(one_process_world):
    with pytest.raises(KeyError, match='RANK'):
        setup_cpu_distributed(_cfg(), 'pytorch')
    with pytest.raises(KeyError, match='OMPI_COMM_WORLD_RANK'):
        setup_cpu_distributed(_cfg(), 'mpi')
    assert not torch_dist.is_initialized()


@needs_cpu_only
def test_cpu_ddp_wrapper_builds_and_syncs_gradients(one_process_world):
    from mmengine.model import BaseModel
    from mmengine.registry import MODEL_WRAPPERS

    class Tiny(BaseModel):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 1)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            return self.fc(inputs)

    one_process_world.setenv('RANK', '0')
    one_process_world.setenv('WORLD_SIZE', '1')
    cfg = _cfg()
    setup_cpu_distributed(cfg, 'pytorch')
    # What Runner.wrap_model does; its default_args device_ids must lose to the config's None.
    ddp = MODEL_WRAPPERS.build(cfg.model_wrapper_cfg,
                               default_args=dict(module=Tiny(), device_ids=[0]))
    assert ddp.device_ids is None
    ddp(torch.ones(2, 3)).sum().backward()
    torch.testing.assert_close(ddp.module.fc.weight.grad, torch.full((1, 3), 2.0))


# --------------------------------------------------------------------------- #
# Leaving a finished distributed run
# --------------------------------------------------------------------------- #
@needs_cpu_only
def test_shutdown_distributed_leaves_the_group_once(one_process_world):
    assert shutdown_distributed() is False  # no group: nothing to leave
    one_process_world.setenv('RANK', '0')
    one_process_world.setenv('WORLD_SIZE', '1')
    setup_cpu_distributed(_cfg(), 'pytorch')
    assert shutdown_distributed() is True
    assert not torch_dist.is_initialized()
    assert shutdown_distributed() is False


def test_exit_without_native_teardown_runs_exit_handlers_and_keeps_the_code(tmp_path):
    marker = tmp_path / 'atexit.txt'
    script = (
        'import atexit, sys\n'
        'from cankd.utils import exit_without_native_teardown\n'
        f'atexit.register(lambda: open({str(marker)!r}, "w").write("ran"))\n'
        'sys.stdout.write("unflushed line")\n'
        'exit_without_native_teardown(3)\n'
        'print("not reached")\n')
    proc = subprocess.run([sys.executable, '-c', script], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == 'unflushed line'  # flushed before os._exit
    assert marker.read_text() == 'ran'  # Python's exit handlers (log flushing) still run
