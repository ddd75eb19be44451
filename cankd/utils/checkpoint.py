"""Safe checkpoint loading for torch >= 2.6 (``weights_only=True``).

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine 0.10.7
still calls ``torch.load`` without arguments, so resuming, ``load_from`` and
testing from a checkpoint fail on what mmengine itself wrote: the
``message_hub`` entry pickles ``HistoryBuffer`` objects (numpy arrays, dtypes
and the buffer's statistics methods, stored as ``getattr(HistoryBuffer,
'min')``). Turning ``weights_only`` off would make every file a code-execution
risk; allowlisting ``builtins.getattr`` nearly as much.

What cankd does instead (installed when :mod:`cankd` is imported):

* every checkpoint mmengine loads -- local path, URL, ``torchvision://``,
  ``mmcls://`` and ``open-mmlab://`` model-zoo names -- goes through
  :func:`safe_load`: ``weights_only=True`` plus a narrow allowlist of the
  numpy types an mmengine checkpoint holds and ``HistoryBuffer``;
* ``builtins.getattr`` is resolved to :func:`_history_buffer_getattr`, which
  returns only ``HistoryBuffer``'s registered statistics methods and refuses
  any other attribute of any other object;
* anything else (an unexpected class or function) stops the load with
  :class:`UnsafeCheckpointError`, naming the object and the file;
* a file that is empty, truncated or not a checkpoint at all stops the load
  with :class:`CorruptCheckpointError`, naming the file and what is wrong
  (instead of a bare ``EOFError`` or a zip-reader message).

mmengine's URL loader also used ``weights_only=False``; routing URLs through
:func:`safe_load` means a model-zoo teacher never unpickles arbitrary objects.
"""
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.logging import HistoryBuffer
from mmengine.runner import checkpoint as mme_ckpt

__all__ = ['safe_load', 'UnsafeCheckpointError', 'CorruptCheckpointError',
           'check_checkpoint_file', 'install_safe_loading']

MapLocation = Optional[Union[str, torch.device, Callable]]


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds an object outside the allowlist."""


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file is empty, truncated or not a checkpoint."""


# torch.save's legacy (non-zip) format starts with a pickle protocol header.
_LEGACY_TORCH_HEADERS = (b'\x80\x02', b'\x80\x03', b'\x80\x04', b'\x80\x05')


def check_checkpoint_file(filename: str) -> None:
    """Raise :class:`CorruptCheckpointError` if ``filename`` cannot be a
    complete ``torch.save`` file; cheap (reads the header and the zip index)."""
    size = osp.getsize(filename)
    if size == 0:
        raise CorruptCheckpointError(
            f'{filename}: empty file (0 bytes), not a checkpoint; was its save '
            'interrupted? Use an earlier checkpoint.')
    with open(filename, 'rb') as f:
        head = f.read(4)
    if zipfile.is_zipfile(filename):
        return
    if head.startswith(b'PK'):
        raise CorruptCheckpointError(
            f'{filename}: truncated or damaged checkpoint ({size} bytes: a zip '
            'archive without its central directory, as a save cut short leaves '
            'it); use an earlier checkpoint.')
    if not head.startswith(_LEGACY_TORCH_HEADERS):
        raise CorruptCheckpointError(
            f'{filename}: not a PyTorch checkpoint ({size} bytes, starting '
            f'{head!r}; a torch.save file is a zip archive starting b"PK"). '
            'Check the path.')


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stand-in for ``builtins.getattr`` while unpickling.

    Pickle stores ``HistoryBuffer.min`` & co. as ``getattr(HistoryBuffer,
    'min')``; nothing else in an mmengine checkpoint needs ``getattr``.
    """
    allowed = _stat_methods()
    if obj is HistoryBuffer and name in allowed:
        return getattr(obj, name)
    raise UnsafeCheckpointError(
        f'refusing getattr({getattr(obj, "__qualname__", obj)!r}, {name!r}): '
        'only the statistics methods of mmengine HistoryBuffer '
        f'({sorted(allowed)}) may be looked up')


def _stat_methods() -> set:
    # The class registry fills lazily (first instance), so name the built-ins.
    return {'min', 'max', 'mean', 'current'} | set(
        HistoryBuffer._statistics_methods)


def _numpy_globals() -> list:
    """numpy objects that pickled arrays, scalars and dtypes refer to."""
    core = getattr(np, '_core', None) or np.core
    allowed = [np.ndarray, np.dtype, core.multiarray._reconstruct,
               core.multiarray.scalar]
    # numpy >= 1.25 pickles a dtype through its class, e.g. Float64DType.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        allowed += [
            getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')
        ]
    # numpy 2 files name ``numpy._core``, numpy 1 files ``numpy.core``.
    for mod in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        allowed += [(core.multiarray._reconstruct, f'{mod}._reconstruct'),
                    (core.multiarray.scalar, f'{mod}.scalar')]
    return allowed


def allowed_globals() -> list:
    """The allowlist handed to ``torch.serialization.safe_globals``."""
    return _numpy_globals() + [
        HistoryBuffer,
        (_history_buffer_getattr, 'builtins.getattr'),
    ]


_GLOBAL_RE = re.compile(r'GLOBAL (\S+)')


def safe_load(filename: Union[str, os.PathLike],
              map_location: MapLocation = None) -> Any:
    """``torch.load`` with ``weights_only=True`` and cankd's narrow allowlist.

    Raises:
        FileNotFoundError: ``filename`` does not exist (the path is named).
        UnsafeCheckpointError: the file holds an object outside the
            allowlist; the message names it.
    """
    filename = os.fspath(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint not found: {filename}')
    check_checkpoint_file(filename)
    try:
        with torch.serialization.safe_globals(allowed_globals()):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except (EOFError, zipfile.BadZipFile) as exc:
        raise CorruptCheckpointError(
            f'{filename}: truncated or damaged checkpoint ({exc or type(exc).__name__}); '
            'use an earlier checkpoint.') from None
    except RuntimeError as exc:
        if 'PytorchStreamReader' not in str(exc) and 'zip archive' not in str(exc):
            raise
        raise CorruptCheckpointError(
            f'{filename}: damaged checkpoint ({str(exc).splitlines()[0]}); use an '
            'earlier checkpoint.') from None
    except pickle.UnpicklingError as exc:
        if _is_garbage(str(exc)):
            raise CorruptCheckpointError(
                f'{filename}: damaged checkpoint, its data does not unpickle '
                f'({_refused_object(str(exc))}); use an earlier checkpoint.') from None
        raise UnsafeCheckpointError(
            f'{filename}: {_refused_object(str(exc))}, so it was not '
            "unpickled. cankd loads plain data (tensors, containers, numbers, "
            'strings), numpy arrays/dtypes and mmengine HistoryBuffer only. If '
            'you trust the file, re-save its tensors with '
            "torch.save({'state_dict': ...}) and load that.") from None


def _is_garbage(message: str) -> bool:
    """Whether torch's unpickling error is about bytes, not a refused object."""
    return _GLOBAL_RE.search(message) is None and any(
        m in message for m in ('invalid load key', 'truncated', 'ran out of input',
                               'Unsupported operand', 'unpickling stack underflow'))


def _refused_object(message: str) -> str:
    """Pull what was refused out of torch's weights-only error text."""
    found = _GLOBAL_RE.search(message)
    if found:
        return f'it holds {found.group(1)}, which is not on the allowlist'
    detail = message.split('WeightsUnpickler error:')[-1].strip()
    return detail.split('\n')[0] or 'it holds an object outside the allowlist'


def _model_dir(model_dir: Optional[str]) -> str:
    if model_dir is None:
        model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    return model_dir


def _download(url: str, model_dir: Optional[str], progress: bool) -> str:
    """Download ``url`` into the torch hub cache once; return the path."""
    cached = osp.join(_model_dir(model_dir), osp.basename(url.split('?')[0]))
    if not osp.exists(cached):
        # download_url_to_file writes a temporary file and renames it, so an
        # interrupted download never leaves a half-written checkpoint.
        torch.hub.download_url_to_file(url, cached, progress=progress)
    return cached


def load_from_local(filename: str, map_location: MapLocation = None) -> Any:
    """mmengine ``''`` scheme: a local path."""
    return safe_load(osp.expanduser(filename), map_location)


def load_from_http(filename: str,
                   map_location: MapLocation = None,
                   model_dir: Optional[str] = None,
                   progress: bool = os.isatty(0)) -> Any:
    """mmengine ``http(s)://`` scheme: download once (rank 0 first)."""
    rank, world_size = get_dist_info()
    if rank == 0:
        cached = _download(filename, model_dir, progress)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            cached = _download(filename, model_dir, progress)
    return safe_load(cached, map_location)


def save_checkpoint(checkpoint: dict, filename: str, file_client_args=None,
                    backend_args=None) -> None:
    """mmengine's ``save_checkpoint``, atomic for local files: written to a
    temporary file and renamed, so an interrupted save never leaves a
    half-written checkpoint that a later resume would trust."""
    if '://' in str(filename) or file_client_args is not None or backend_args is not None:
        return _mmengine_save_checkpoint(checkpoint, filename, file_client_args, backend_args)
    from .io import atomic_torch_save
    atomic_torch_save(checkpoint, filename)


_mmengine_save_checkpoint = mme_ckpt.save_checkpoint
_installed = False


def install_safe_loading() -> None:
    """Route mmengine's checkpoint loading through :func:`safe_load`, and make
    its local checkpoint saving atomic (:func:`save_checkpoint`).

    Idempotent. ``torchvision://``, ``mmcls://`` and ``open-mmlab://`` call
    mmengine's module-level ``load_from_http``, so that name is replaced too.
    """
    global _installed
    if _installed:
        return
    loader = mme_ckpt.CheckpointLoader
    loader.register_scheme(prefixes='', loader=load_from_local, force=True)
    loader.register_scheme(
        prefixes=('http://', 'https://'), loader=load_from_http, force=True)
    mme_ckpt.load_from_http = load_from_http
    # The Runner imported the function by name: replace it there too.
    from mmengine.runner import runner as mme_runner
    mme_ckpt.save_checkpoint = save_checkpoint
    mme_runner.save_checkpoint = save_checkpoint
    from .checkpoint_saving import install_safe_saving
    install_safe_saving()
    _installed = True
