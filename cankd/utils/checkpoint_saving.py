"""Checkpoint rotation that never leaves a run without a checkpoint.

mmengine 0.10.7's ``CheckpointHook`` deletes the oldest kept checkpoint (and
the previous best one) *before* writing the new one; with
``max_keep_ckpts=1`` a kill during that save leaves no checkpoint at all, and
``--resume`` fails. Installed on ``import cankd``:

* removals the hook asks for while saving are deferred until the save (and
  the ``last_checkpoint`` pointer) is complete; if the save fails, nothing
  is removed;
* on ``before_train`` the hook deletes temporaries of cankd's atomic saves
  left by a killed process (:func:`cankd.utils.io.remove_stale_temporaries`);
* ``find_latest_checkpoint`` (what ``--resume`` without a path uses) falls
  back, with a warning, to the newest complete ``iter_*.pth`` /
  ``epoch_*.pth`` when ``last_checkpoint`` is empty or names a missing or
  damaged file, instead of failing on an empty path.
"""
import functools
import glob
import logging
import os.path as osp
import re
from typing import Callable, List, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.runner import checkpoint as mme_ckpt

from .io import remove_stale_temporaries

__all__ = ['install_safe_saving', 'find_latest_checkpoint', 'complete_checkpoints']

_STEP_RE = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


def _defer_removals(save: Callable) -> Callable:
    """Wrap a ``CheckpointHook`` saving method so that the files it removes
    are removed only after it returned (the new checkpoint is on disk)."""

    @functools.wraps(save)
    def wrapper(self, runner, *args, **kwargs):
        backend = getattr(self, 'file_backend', None)
        # mmengine's _save_best_checkpoint calls _save_checkpoint_with_step: the
        # inner save defers into the outer one's list, which removes at the end
        if backend is None or getattr(self, '_cankd_deferring', False):
            return save(self, runner, *args, **kwargs)
        deferred: List[tuple] = []
        backend.remove = lambda path: deferred.append(('remove', path))
        backend.rmtree = lambda path: deferred.append(('rmtree', path))
        self._cankd_deferring = True
        try:
            result = save(self, runner, *args, **kwargs)
        finally:
            self._cankd_deferring = False
            del backend.remove, backend.rmtree  # the class methods again
        written = {self.last_ckpt, getattr(self, 'best_ckpt_path', None),
                   *getattr(self, 'best_ckpt_path_dict', {}).values()}
        for kind, path in deferred:
            if path not in written:  # same name saved again: keep the new file
                getattr(backend, kind)(path)
        return result

    return wrapper


def _clean_temporaries(before_train: Callable) -> Callable:

    @functools.wraps(before_train)
    def wrapper(self, runner):
        before_train(self, runner)
        if not is_main_process():
            return
        for folder in {self.out_dir, runner.work_dir}:
            if isinstance(folder, str) and osp.isdir(folder):
                for path in remove_stale_temporaries(folder):
                    print_log(f'removed {path}: the temporary file of a save that was '
                              'interrupted', logger='current', level=logging.WARNING)

    return wrapper


def complete_checkpoints(folder: str) -> List[str]:
    """``iter_*.pth`` / ``epoch_*.pth`` in ``folder`` that are complete
    ``torch.save`` files, oldest first (by modification time, then step)."""
    from .checkpoint import CorruptCheckpointError, check_checkpoint_file
    found = []
    for path in glob.glob(osp.join(glob.escape(folder), '*.pth')):
        match = _STEP_RE.match(osp.basename(path))
        if match is None:
            continue
        try:
            check_checkpoint_file(path)
        except (CorruptCheckpointError, OSError):
            continue
        found.append((osp.getmtime(path), int(match.group(1)), path))
    return [path for *_, path in sorted(found)]


def find_latest_checkpoint(path: str) -> Optional[str]:
    """mmengine's ``find_latest_checkpoint``, robust to a damaged pointer.

    Returns what ``<path>/last_checkpoint`` names when that is usable; when
    the pointer is empty or names a missing or damaged local file, the newest
    complete ``iter_*.pth`` / ``epoch_*.pth`` in ``path`` (with a warning).
    Raises ``FileNotFoundError`` when there is none to fall back to, rather
    than silently training from scratch.
    """
    from .checkpoint import CorruptCheckpointError, check_checkpoint_file
    pointer = osp.join(path, 'last_checkpoint')
    if not osp.exists(pointer):
        return _mmengine_find_latest_checkpoint(path)
    with open(pointer) as f:
        named = f.read().strip()
    if named and '://' in named:
        return named
    problem = None
    if not named:
        problem = 'is empty'
    elif not osp.isfile(named):
        problem = f'names {named}, which does not exist'
    else:
        try:
            check_checkpoint_file(named)
        except CorruptCheckpointError as exc:
            problem = f'names a damaged file ({exc})'
    if problem is None:
        return named
    candidates = [c for c in complete_checkpoints(path) if c != named]
    if not candidates:
        raise FileNotFoundError(
            f'cannot resume: {pointer} {problem}, and {path} holds no complete '
            'iter_*.pth / epoch_*.pth checkpoint to fall back to; give one with '
            '--resume PATH or train without --resume')
    print_log(f'{pointer} {problem}; resuming from the newest complete checkpoint, '
              f'{candidates[-1]}', logger='current', level=logging.WARNING)
    return candidates[-1]


_mmengine_find_latest_checkpoint = mme_ckpt.find_latest_checkpoint
_installed = False


def install_safe_saving() -> None:
    """Patch mmengine's CheckpointHook and ``find_latest_checkpoint`` (idempotent)."""
    global _installed
    if _installed:
        return
    CheckpointHook._save_checkpoint_with_step = _defer_removals(
        CheckpointHook._save_checkpoint_with_step)
    CheckpointHook._save_best_checkpoint = _defer_removals(
        CheckpointHook._save_best_checkpoint)
    CheckpointHook.before_train = _clean_temporaries(CheckpointHook.before_train)
    from mmengine.runner import runner as mme_runner
    mme_runner.find_latest_checkpoint = find_latest_checkpoint
    try:
        from mmengine.runner import _flexible_runner
        _flexible_runner.find_latest_checkpoint = find_latest_checkpoint
    except ImportError:  # older mmengine
        pass
    _installed = True
