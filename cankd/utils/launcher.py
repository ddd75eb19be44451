"""Distributed set-up for machines without CUDA (gloo process group on CPU).

mmengine 0.10.7 cannot start a multi-process job on CPU by itself: its
``pytorch``/``slurm``/``mpi`` launchers call ``torch.cuda.set_device`` before
``init_process_group``, and ``Runner.wrap_model`` hands DDP
``device_ids=[LOCAL_RANK]``, which DDP rejects for a CPU module. Both steps
are sidestepped here:

* the process group is initialised with ``gloo`` from the launcher's
  environment variables; ``Runner.setup_env`` then skips ``init_dist``
  because ``torch.distributed.is_initialized()`` is already true;
* ``cfg.model_wrapper_cfg`` gets ``device_ids=None``; explicit config keys
  win over the ``default_args`` that ``Runner.wrap_model`` passes;
* ``SyncBN`` norm layers become ``BN`` (torch's SyncBatchNorm is GPU-only).

With CUDA (or another accelerator mmengine knows) nothing changes: mmengine's
own path is used.
"""
import atexit
import datetime
import gc
import inspect
import logging
import os
import subprocess
import sys
from contextlib import contextmanager
from typing import NoReturn, Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.device import (is_cuda_available, is_mlu_available, is_musa_available,
                             is_npu_available)
from mmengine.logging import print_log
from torch.nn.parallel import DistributedDataParallel

__all__ = ['setup_cpu_distributed', 'shutdown_distributed', 'exit_without_native_teardown',
           'LAUNCHERS', 'DEFAULT_DIST_TIMEOUT', 'apply_dist_timeout',
           'explain_collective_timeout']

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')

# Seconds a collective (DDP's gradient all-reduce, the evaluation gather, a
# barrier) waits for the other ranks before failing. torch's default is 30 min
# for gloo; a stuck rank then freezes the whole job that long, silently. 10 min
# is ample for the longest legitimate wait of a training run (rank 0 saving a
# checkpoint or computing COCO metrics while the others wait).
DEFAULT_DIST_TIMEOUT = 600
DIST_TIMEOUT_ENV = 'DIST_TIMEOUT'
_TIMEOUT_KEY = 'env_cfg.dist_cfg.timeout'


def _has_accelerator() -> bool:
    return (is_cuda_available() or is_npu_available() or is_mlu_available()
            or is_musa_available())


def _env_int(name: str, launcher: str) -> int:
    value = os.environ.get(name)
    if value is None:
        raise KeyError(
            f'launcher {launcher!r} needs the environment variable {name}; start '
            'the job with tools/dist_train.sh (torchrun), srun or mpirun, or pass '
            '--launcher none')
    return int(value)


def _export_launcher_env(launcher: str) -> None:
    """Fill RANK/WORLD_SIZE/LOCAL_RANK/MASTER_* from the launcher's variables.

    Mirrors what mmengine's ``_init_dist_slurm``/``_init_dist_mpi`` derive,
    so ``init_process_group(init_method='env://')`` works for all three.
    """
    if launcher == 'pytorch':  # torchrun sets everything
        for name in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
            if name not in os.environ:
                _env_int(name, launcher)  # raises the explanatory KeyError
        os.environ.setdefault('LOCAL_RANK', '0')
    elif launcher == 'slurm':
        rank = _env_int('SLURM_PROCID', launcher)
        world_size = _env_int('SLURM_NTASKS', launcher)
        os.environ['RANK'] = str(rank)
        os.environ['WORLD_SIZE'] = str(world_size)
        os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
        os.environ.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in os.environ:
            nodes = os.environ.get('SLURM_NODELIST', '')
            os.environ['MASTER_ADDR'] = subprocess.getoutput(
                f'scontrol show hostname {nodes} | head -n1') or '127.0.0.1'
    elif launcher == 'mpi':
        os.environ['RANK'] = str(_env_int('OMPI_COMM_WORLD_RANK', launcher))
        os.environ['WORLD_SIZE'] = str(_env_int('OMPI_COMM_WORLD_SIZE', launcher))
        os.environ['LOCAL_RANK'] = str(
            _env_int('OMPI_COMM_WORLD_LOCAL_RANK', launcher))
        os.environ.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in os.environ:
            raise KeyError('launcher \'mpi\' needs the environment variable MASTER_ADDR')


def apply_dist_timeout(cfg: Config) -> int:
    """Set ``env_cfg.dist_cfg.timeout`` (seconds) for a distributed run.

    Priority: the environment variable ``DIST_TIMEOUT`` (what
    ``tools/dist_train.sh`` and ``tools/slurm_train.sh`` pass on), then the
    config's ``env_cfg.dist_cfg.timeout``, then :data:`DEFAULT_DIST_TIMEOUT`.
    mmengine's ``init_dist`` (GPU) and :func:`setup_cpu_distributed` (CPU)
    both read the config key.

    Returns:
        The timeout in seconds.

    Raises:
        ValueError: ``DIST_TIMEOUT`` or the config value is not a positive number.
    """
    if cfg.get('env_cfg') is None:
        cfg.env_cfg = dict(dist_cfg=dict(backend='nccl'))  # mmengine's default
    if cfg.env_cfg.get('dist_cfg') is None:
        cfg.env_cfg.dist_cfg = dict(backend='nccl')
    dist_cfg = cfg.env_cfg.dist_cfg
    from_env = os.environ.get(DIST_TIMEOUT_ENV, '').strip()
    if from_env:
        source, value = f'{DIST_TIMEOUT_ENV}={from_env!r}', from_env
    elif dist_cfg.get('timeout') is not None:
        source, value = f'{_TIMEOUT_KEY}={dist_cfg["timeout"]!r}', dist_cfg['timeout']
    else:
        source, value = 'default', DEFAULT_DIST_TIMEOUT
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1
    if not seconds > 0:
        raise ValueError(f'{source}: the collective timeout must be a positive number of '
                         f'seconds, e.g. {DIST_TIMEOUT_ENV}={DEFAULT_DIST_TIMEOUT}')
    seconds = int(seconds) if seconds == int(seconds) else seconds
    dist_cfg['timeout'] = seconds
    return seconds


def _is_collective_timeout(error: BaseException) -> bool:
    text = str(error)
    return ('Timed out waiting' in text  # gloo
            or 'collective operation timeout' in text  # NCCL watchdog
            or ('timed out' in text.lower() and 'Socket' in text))  # c10d store


def _timeout_message(timeout, error: BaseException) -> str:
    first_line = (str(error).strip().splitlines() or [''])[0]
    rank = torch_dist.get_rank() if torch_dist.is_initialized() else os.environ.get('RANK', '?')
    return (
        f'rank {rank}: a collective operation (gradient all-reduce, evaluation gather or '
        f'barrier) waited more than {timeout} s for the other ranks ({_TIMEOUT_KEY} = '
        f'{timeout}): another rank is stuck or dead, see its log. If a rank legitimately '
        f'needs longer between two collectives (a slow checkpoint save or evaluation), '
        f'raise the limit: {DIST_TIMEOUT_ENV}=SECONDS tools/dist_train.sh ... (or '
        f'tools/slurm_train.sh), or --cfg-options {_TIMEOUT_KEY}=SECONDS. '
        f'[{type(error).__name__}: {first_line}]')


@contextmanager
def explain_collective_timeout(cfg: Config):
    """Turn a collective's timeout inside the block into a logged error that
    names the timeout and how to change it (console and the run's log file),
    then ``SystemExit(1)``; other errors pass unchanged."""
    try:
        yield
    except RuntimeError as error:
        if not (torch_dist.is_available() and torch_dist.is_initialized()
                and _is_collective_timeout(error)):
            raise
        timeout = ((cfg.get('env_cfg') or {}).get('dist_cfg') or {}).get('timeout')
        message = _timeout_message(timeout, error)
        print_log(message, logger='current', level=logging.ERROR)
        raise SystemExit(1) from None


def _cpu_wrapper_cfg(cfg: Config) -> dict:
    """``model_wrapper_cfg`` with ``device_ids=None``, keeping the user's keys."""
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:
        # mmengine's default wrapper, except device_ids. Buffers (BN running
        # stats) stay rank-local as with mmengine's broadcast_buffers=False;
        # torch >= 2.13 deprecates that name for forward_sync_buffers.
        sync_key = ('forward_sync_buffers' if 'forward_sync_buffers' in inspect.signature(
            DistributedDataParallel).parameters else 'broadcast_buffers')
        return {
            'type': 'MMDistributedDataParallel',
            'device_ids': None,
            sync_key: False,
            'find_unused_parameters': cfg.get('find_unused_parameters', False),
        }
    wrapper = dict(wrapper)
    wrapper['device_ids'] = None
    return wrapper


def _sync_bn_to_bn(node) -> bool:
    """Replace ``SyncBN``/``MMSyncBN`` norm configs by ``BN`` in place."""
    changed = False
    if isinstance(node, dict):
        if node.get('type') in ('SyncBN', 'MMSyncBN'):
            node['type'] = 'BN'
            changed = True
        for value in node.values():
            changed |= _sync_bn_to_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            changed |= _sync_bn_to_bn(value)
    return changed


def setup_cpu_distributed(cfg: Config, launcher: Optional[str] = None) -> bool:
    """Start a gloo process group for a CPU-only multi-process job.

    Call after the config is final and before ``Runner.from_cfg``.

    Args:
        cfg: the run's config. ``cfg.model_wrapper_cfg`` is set (or updated)
            with ``device_ids=None``; ``env_cfg.dist_cfg.timeout`` (seconds)
            is honoured, its ``backend`` replaced by ``gloo``.
        launcher: ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``;
            defaults to ``cfg.launcher``.

    Returns:
        True when this function set up the process group; False when there
        is nothing to do (``launcher='none'``, an accelerator is present, or
        the group already exists).
    """
    launcher = cfg.get('launcher', 'none') if launcher is None else launcher
    if launcher not in LAUNCHERS:
        raise ValueError(f'launcher must be one of {LAUNCHERS}, got {launcher!r}')
    if launcher == 'none':
        return False
    timeout = apply_dist_timeout(cfg)
    if _has_accelerator():
        print_log(f'collective timeout: {timeout} s ({_TIMEOUT_KEY}; change it with '
                  f'{DIST_TIMEOUT_ENV}=SECONDS)', logger='current')
        return False
    if torch_dist.is_available() and torch_dist.is_initialized():
        return False
    if not torch_dist.is_available() or not torch_dist.is_gloo_available():
        raise RuntimeError(
            f'--launcher {launcher} on a machine without CUDA needs torch.distributed '
            f'with the gloo backend, which this torch build ({torch.__version__}) lacks')

    _export_launcher_env(launcher)
    torch_dist.init_process_group(
        backend='gloo',
        init_method='env://',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        timeout=datetime.timedelta(seconds=timeout))
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    cfg.model_wrapper_cfg = _cpu_wrapper_cfg(cfg)
    # torch's SyncBatchNorm refuses CPU tensors: each process normalises its
    # own batch instead (what mmengine does for a single-process run).
    if cfg.get('sync_bn') is not None:
        cfg.sync_bn = None
    if _sync_bn_to_bn(cfg.get('model')):
        print_log('CPU distributed: SyncBN layers built as BN (SyncBatchNorm needs '
                  'a GPU)', logger='current', level=logging.WARNING)
    print_log(
        f'CPU distributed: gloo process group, rank {torch_dist.get_rank()} of '
        f'{torch_dist.get_world_size()} ({launcher} launcher), collective timeout '
        f'{timeout} s ({_TIMEOUT_KEY}; change it with {DIST_TIMEOUT_ENV}=SECONDS)',
        logger='current')
    return True


def shutdown_distributed() -> bool:
    """Leave the process group once the job has succeeded: wait for every
    rank, then destroy the group.

    Call it after success only: after an error the barrier could wait
    forever for a rank that is stuck elsewhere.

    Returns:
        True when a process group was left (the caller should then end the
        process with :func:`exit_without_native_teardown`).
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return False
    # DDP's reducer holds the group; collect dead models first so the group's
    # threads are joined here, while the interpreter is whole.
    gc.collect()
    torch_dist.barrier()
    torch_dist.destroy_process_group()
    gc.collect()
    return True


def exit_without_native_teardown(code: int = 0) -> NoReturn:
    """End a finished distributed process without C++ static destructors.

    On CPU/gloo a rank whose work is done and whose group is destroyed can
    still abort while the interpreter tears down torch's native state
    ("terminate called without an active exception", SIGABRT); torchrun then
    reports the whole job as failed. Seen intermittently in CI on 2-process
    ``dist_train.sh`` and ``dist_test.sh`` runs, after every rank had logged
    its results. Python's own exit handlers still run (log files are
    flushed); only the native teardown is skipped.
    """
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or redirected away
            pass
    os._exit(code)
