"""A frozen rank must not hang its peers for gloo's 30 minutes (issue 17, item 8):
the collective timeout is a setting (env_cfg.dist_cfg.timeout, DIST_TIMEOUT), and
the surviving ranks exit non-zero with a message naming it."""
import datetime
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import MMLogger

from cankd.utils.launcher import (DEFAULT_DIST_TIMEOUT, apply_dist_timeout,
                                  explain_collective_timeout, setup_cpu_distributed)

TOOLS = Path(__file__).resolve().parents[2] / 'tools'
needs_cpu_only = pytest.mark.skipif(
    torch.cuda.is_available(), reason='with CUDA, mmengine\'s own launcher path is used')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def world_of_one(monkeypatch):
    for name in ('LOCAL_RANK', 'DIST_TIMEOUT'):
        monkeypatch.delenv(name, raising=False)
    for name, value in dict(RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
                            MASTER_PORT=str(_free_port())).items():
        monkeypatch.setenv(name, value)
    yield monkeypatch
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def _cfg(**dist_cfg) -> Config:
    return Config(dict(model=dict(type='M'), env_cfg=dict(dist_cfg=dict(backend='nccl',
                                                                         **dist_cfg))))


def test_timeout_default_config_and_environment(monkeypatch):
    monkeypatch.delenv('DIST_TIMEOUT', raising=False)
    cfg = _cfg()
    assert apply_dist_timeout(cfg) == DEFAULT_DIST_TIMEOUT == 600
    assert cfg.env_cfg.dist_cfg.timeout == 600
    cfg = Config(dict())  # no env_cfg at all
    assert apply_dist_timeout(cfg) == 600 and cfg.env_cfg.dist_cfg.timeout == 600
    assert apply_dist_timeout(_cfg(timeout=1800)) == 1800  # the config's own value
    monkeypatch.setenv('DIST_TIMEOUT', '5')  # the launcher's variable wins
    cfg = _cfg(timeout=1800)
    assert apply_dist_timeout(cfg) == 5 and cfg.env_cfg.dist_cfg.timeout == 5
    monkeypatch.setenv('DIST_TIMEOUT', 'ten')
    with pytest.raises(ValueError, match=r"DIST_TIMEOUT='ten': .*positive number of seconds"):
        apply_dist_timeout(_cfg())
    monkeypatch.delenv('DIST_TIMEOUT')
    with pytest.raises(ValueError, match=r'env_cfg.dist_cfg.timeout=0: .*positive'):
        apply_dist_timeout(_cfg(timeout=0))


@needs_cpu_only
def test_cpu_process_group_gets_the_timeout(world_of_one):
    world_of_one.setenv('DIST_TIMEOUT', '7')
    cfg = _cfg()
    assert setup_cpu_distributed(cfg, 'pytorch') is True
    assert cfg.env_cfg.dist_cfg == dict(backend='gloo', timeout=7)
    group = torch_dist.distributed_c10d._get_default_group()
    backend = group._get_backend(torch.device('cpu'))
    assert backend.options._timeout == datetime.timedelta(seconds=7)


@needs_cpu_only
def test_collective_timeout_becomes_an_explained_exit(world_of_one, capsys):
    cfg = _cfg()
    setup_cpu_distributed(cfg, 'pytorch')
    MMLogger.get_instance('dist_timeout_test')
    with pytest.raises(SystemExit) as exit_info:
        with explain_collective_timeout(cfg):
            raise RuntimeError('[gloo/transport/tcp/unbound_buffer.cc:129] Timed out '
                               'waiting 600000ms for send operation to complete')
    assert exit_info.value.code == 1
    out = capsys.readouterr()
    message = out.out + out.err
    assert 'rank 0: a collective operation' in message
    assert 'more than 600 s' in message and 'env_cfg.dist_cfg.timeout' in message
    assert 'DIST_TIMEOUT=SECONDS' in message and 'Timed out waiting 600000ms' in message
    with pytest.raises(RuntimeError, match='unrelated'):  # other errors pass unchanged
        with explain_collective_timeout(cfg):
            raise RuntimeError('unrelated')


FREEZE_HOOK = '''
import os, signal
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class FreezeRankOneHook(Hook):
    """Rank 1 stops itself (SIGSTOP) after its first iteration, as a frozen node."""

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.rank == 1 and runner.iter == 0:
            with open(os.environ['FROZEN_PID_FILE'], 'w') as f:
                f.write(str(os.getpid()))
            print('rank 1: freezing', flush=True)
            os.kill(os.getpid(), signal.SIGSTOP)
'''


@pytest.mark.slow
@needs_cpu_only
def test_a_frozen_rank_fails_the_job_after_dist_timeout(tiny_retinanet_config, tmp_path):
    """2 CPU processes; rank 1 SIGSTOPs itself: rank 0 exits with the explanation
    about DIST_TIMEOUT (3 s) after the freeze, not gloo's 30 minutes."""
    (tmp_path / 'freeze_rank_hook.py').write_text(FREEZE_HOOK)
    config = tmp_path / 'frozen.py'
    config.write_text(f'_base_ = {tiny_retinanet_config!r}\n'
                      "custom_imports = dict(imports=['freeze_rank_hook'])\n"
                      "custom_hooks = [dict(type='FreezeRankOneHook')]\n"
                      'train_cfg = dict(max_iters=4, val_interval=100)\n')
    pid_file = tmp_path / 'frozen.pid'
    env = dict(os.environ, DIST_TIMEOUT='3', PORT=str(_free_port()), PYTHON=sys.executable,
               OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', FROZEN_PID_FILE=str(pid_file),
               PYTHONPATH=str(tmp_path) + os.pathsep + os.environ.get('PYTHONPATH', ''),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ['PATH'])
    proc = subprocess.Popen(
        ['bash', str(TOOLS / 'dist_train.sh'), str(config), '2', '--work-dir',
         str(tmp_path / 'w')], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout] and None,
                     daemon=True).start()
    out, frozen_at, explained_at = [], None, None
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                if proc.poll() is not None:
                    break
                continue
            out.append(line)
            if 'rank 1: freezing' in line:
                frozen_at = time.monotonic()
            if 'a collective operation' in line and explained_at is None:
                explained_at = time.monotonic()
            # torchrun saw rank 0 exit and now waits 30 s for the stopped rank to
            # take its SIGTERM: play the operator and kill the frozen process.
            if 'closing signal SIGTERM' in line and pid_file.exists():
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            if pid_file.exists():
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = ''.join(out)
    assert frozen_at is not None, text[-6000:]
    assert explained_at is not None, text[-6000:]
    assert proc.returncode != 0
    assert 'collective timeout 3 s' in text  # logged when the group starts
    assert 'waited more than 3 s for the other ranks (env_cfg.dist_cfg.timeout = 3)' in text
    assert 'DIST_TIMEOUT=SECONDS tools/dist_train.sh' in text
    assert 'exitcode  : 1' in text  # rank 0 exited with status 1, not killed
    assert explained_at - frozen_at < 3 + 15, f'{explained_at - frozen_at:.1f} s'
    print(f'timeout fired {explained_at - frozen_at:.1f} s after the freeze')
