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
from typing import NoReturn, Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.device import (is_cuda_available, is_mlu_available, is_musa_available,
                             is_npu_available)
from mmengine.logging import print_log
from torch.nn.parallel import DistributedDataParallel

__all__ = ['setup_cpu_distributed', 'shutdown_distributed', 'exit_without_native_teardown',
           'LAUNCHERS']

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


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
    if launcher == 'none' or _has_accelerator():
        return False
    if torch_dist.is_available() and torch_dist.is_initialized():
        return False
    if not torch_dist.is_available() or not torch_dist.is_gloo_available():
        raise RuntimeError(
            f'--launcher {launcher} on a machine without CUDA needs torch.distributed '
            f'with the gloo backend, which this torch build ({torch.__version__}) lacks')

    _export_launcher_env(launcher)
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}) or {})
    kwargs = {}
    if dist_cfg.get('timeout') is not None:
        kwargs['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    torch_dist.init_process_group(
        backend='gloo',
        init_method='env://',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs)

    if cfg.get('env_cfg') is not None:
        cfg.env_cfg.setdefault('dist_cfg', {})
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
        f'{torch_dist.get_world_size()} ({launcher} launcher)', logger='current')
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
