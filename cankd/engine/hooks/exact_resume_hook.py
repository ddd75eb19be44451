"""Resume that continues exactly where the interrupted run was."""
import logging
import random
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log

from cankd.registry import HOOKS

__all__ = ['ExactResumeHook', 'get_rng_state', 'set_rng_state']

RNG_KEY = 'rng_state'


def get_rng_state() -> Dict[str, Any]:
    """Python, numpy, torch CPU and CUDA generator states, as plain data
    (what a ``weights_only`` checkpoint load accepts)."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    """Inverse of :func:`get_rng_state`."""
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(tuple(state['numpy']))
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state['cuda']])


class _RestoreBeforeNext:
    """Wraps a train loop's data iterator: after ``skip`` batches (mmengine
    advancing past the trained data on resume), restore the generators, then
    hand out batches as the uninterrupted run would."""

    def __init__(self, iterator, skip: int, state: Dict[str, Any]) -> None:
        self._iterator, self._skip, self._state = iterator, skip, state

    def __next__(self):
        if self._state is not None and self._skip == 0:
            set_rng_state(self._state)
            self._state = None
        self._skip -= 1
        return next(self._iterator)

    def __iter__(self):
        return self

    def __getattr__(self, name):
        return getattr(self._iterator, name)


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Make ``--resume`` continue the interrupted run bit for bit.

    mmengine re-seeds on resume instead of restoring the random generators,
    so dropout masks and random augmentations differ from the uninterrupted
    run. This hook (on by default in cankd's ``tools/train.py`` as
    ``default_hooks.exact_resume``):

    * saves every rank's generator states (python, numpy, torch CPU/CUDA) in
      each checkpoint under ``rng_state`` and restores them on resume, right
      before the first batch after the already-trained data is fetched (for
      iteration-based loops, after mmengine's dataloader advance; for epoch
      loops, at the start of the next epoch);
    * keeps validation from drawing on the training generators (their state is
      saved before and restored after each validation during training), so
      the training stream is the same whether or not a run was interrupted
      around a validation;
    * runs the final validation when a finished run is resumed (a kill after
      the last checkpoint and before the end of the last validation would
      otherwise end with no final metric).

    A checkpoint from another world size, or one without ``rng_state`` (older
    or from mmengine alone), resumes as before, with a warning.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._pending: Optional[Dict[str, Any]] = None
        self._saved_for_val: Optional[Dict[str, Any]] = None
        self._resumed_finished = False
        self._gathered: Optional[List[Dict[str, Any]]] = None

    # Saving runs on rank 0 only: with several ranks, every rank's state is
    # gathered just before the CheckpointHook (lower priority) saves.
    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if get_world_size() > 1 and _checkpoint_due(runner, by_epoch=False):
            self._gathered = all_gather_object(get_rng_state())

    def after_train_epoch(self, runner) -> None:
        if get_world_size() > 1 and _checkpoint_due(runner, by_epoch=True):
            self._gathered = all_gather_object(get_rng_state())

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if get_world_size() == 1:
            checkpoint[RNG_KEY] = [get_rng_state()]
        elif self._gathered is not None:
            checkpoint[RNG_KEY] = self._gathered
            self._gathered = None

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resume', False):
            return  # load_from / testing: weights only
        states = checkpoint.get(RNG_KEY)
        if not states:
            print_log('the checkpoint holds no random generator states (saved without '
                      'cankd\'s ExactResumeHook): the resumed run is re-seeded and will not '
                      'match an uninterrupted run bit for bit',
                      logger='current', level=logging.WARNING)
        elif len(states) != get_world_size():
            print_log(f'the checkpoint holds random states of {len(states)} processes, this '
                      f'run has {get_world_size()}: they are not restored',
                      logger='current', level=logging.WARNING)
        else:
            self._pending = states[get_rank()]

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        # iteration loops hold an infinite data iterator, epoch loops a dataloader
        step, last = ((runner.iter, getattr(loop, 'max_iters', None))
                      if hasattr(loop, 'dataloader_iterator')
                      else (runner.epoch, getattr(loop, 'max_epochs', None)))
        resumed = runner._has_loaded and getattr(runner, '_resume', False)
        # nothing left to train: the loop runs no step, hence no validation
        self._resumed_finished = bool(resumed and last is not None and step >= last
                                      and getattr(loop, 'val_begin', 1) <= step)
        if self._pending is not None and hasattr(loop, 'dataloader_iterator'):
            loop.dataloader_iterator = _RestoreBeforeNext(
                loop.dataloader_iterator, runner.iter, self._pending)
            self._pending = None

    def before_train_epoch(self, runner) -> None:
        if self._pending is not None:  # epoch-based loop: before its data iterator exists
            set_rng_state(self._pending)
            self._pending = None

    def before_val(self, runner) -> None:
        if self._in_training(runner):
            self._saved_for_val = get_rng_state()

    def after_val(self, runner) -> None:
        if self._saved_for_val is not None:
            set_rng_state(self._saved_for_val)
            self._saved_for_val = None

    def after_train(self, runner) -> None:
        if self._resumed_finished and runner.val_loop is not None:
            print_log('resumed a run whose training had finished: running its final '
                      'validation', logger='current')
            self._resumed_finished = False
            runner.val_loop.run()

    @staticmethod
    def _in_training(runner) -> bool:
        loop = getattr(runner, '_train_loop', None)
        return loop is not None and not isinstance(loop, dict)


def _checkpoint_due(runner, by_epoch: bool) -> bool:
    """Whether a CheckpointHook saves at the end of this iteration/epoch."""
    from mmengine.hooks import CheckpointHook
    for hook in runner.hooks:
        if not isinstance(hook, CheckpointHook) or hook.by_epoch != by_epoch:
            continue
        if by_epoch:
            due = hook.every_n_epochs(runner, hook.interval, hook.save_begin)
            last = hook.is_last_train_epoch(runner)
        else:
            due = hook.every_n_train_iters(runner, hook.interval, hook.save_begin)
            last = hook.is_last_train_iter(runner)
        if due or (hook.save_last and last):
            return True
    return False
