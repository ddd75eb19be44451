"""Stop (or skip) a training step whose loss or gradients are not finite."""
import logging
import math
from typing import Dict, List, Optional

import torch
import torch.distributed as torch_dist
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict

from cankd.registry import HOOKS

__all__ = ['NonFiniteCheckHook', 'NonFiniteLossError']


class NonFiniteLossError(FloatingPointError):
    """A loss term, the gradients or a checkpoint's tensors are not finite."""


def _bad_terms(log_vars: Dict[str, torch.Tensor]) -> List[str]:
    """``name=value`` of the non-finite entries of parsed log variables."""
    values = [v for v in log_vars.values() if isinstance(v, torch.Tensor)]
    if not values or bool(torch.isfinite(torch.stack(
            [v.detach().float().reshape(()) for v in values])).all()):
        return []
    return [f'{k}={float(v.detach()):g}' for k, v in log_vars.items()
            if isinstance(v, torch.Tensor) and not math.isfinite(float(v.detach()))]


def _grad_norm(params) -> torch.Tensor:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(
        torch.stack(torch._foreach_norm(grads)).float())


@HOOKS.register_module()
class NonFiniteCheckHook(Hook):
    """Stop training at the first non-finite loss or gradient norm.

    mmengine trains on through NaN losses: NaN weights are saved and rotate
    the good checkpoints out, and the run exits 0. This hook (on by default in
    cankd's ``tools/train.py`` as ``default_hooks.nonfinite_check``) checks,
    every iteration and before the optimizer step, the total loss and every
    logged term (``student.*``, ``distill.*``) and the global gradient norm.
    With ``action='raise'`` it raises :class:`NonFiniteLossError` naming the
    terms and the iteration, before the weights change, so the last
    checkpoint stays good; with ``action='skip'`` it drops that step's
    gradients (no update) and warns, and raises after ``max_skips``
    consecutive skips. It also refuses to save a checkpoint holding a
    non-finite weight or buffer.

    All ranks take the same decision (one tiny all-reduce a step), so no rank
    is left waiting in a collective. With a dynamic loss scaler (fp16 AMP)
    non-finite gradients are the scaler's business and only losses count.

    Args:
        action: ``'raise'`` (default) or ``'skip'``.
        max_skips: with ``'skip'``, consecutive skipped steps tolerated.
        check_grad_norm: also check the gradient norm (one pass over grads).
    """

    priority = 'VERY_HIGH'

    def __init__(self, action: str = 'raise', max_skips: int = 10,
                 check_grad_norm: bool = True) -> None:
        if action not in ('raise', 'skip'):
            raise ValueError(f"NonFiniteCheckHook: action must be 'raise' or 'skip', "
                             f'got {action!r}')
        if not isinstance(max_skips, int) or max_skips < 1:
            raise ValueError(f'NonFiniteCheckHook: max_skips must be a positive int, '
                             f'got {max_skips!r}')
        self.action = action
        self.max_skips = max_skips
        self.check_grad_norm = check_grad_norm
        self._bad: List[str] = []
        self._skipped = 0
        self._runner = None

    # --- wiring ---------------------------------------------------------
    def before_train(self, runner) -> None:
        self._runner = runner
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        parse_losses = model.parse_losses

        def checked_parse_losses(losses):
            loss, log_vars = parse_losses(losses)
            self._bad += _bad_terms(log_vars)
            return loss, log_vars

        model.parse_losses = checked_parse_losses
        wrappers = runner.optim_wrapper
        wrappers = (wrappers.values() if isinstance(wrappers, OptimWrapperDict)
                    else [wrappers])
        for wrapper in wrappers:
            self._wrap_step(wrapper)

    def _wrap_step(self, wrapper) -> None:
        step, zero_grad = wrapper.step, wrapper.zero_grad
        scaled = getattr(wrapper, 'loss_scaler', None) is not None

        def checked_step(**kwargs):
            problems = self._problems(wrapper, check_grads=self.check_grad_norm and not scaled)
            self._bad = []
            if not problems:
                self._skipped = 0
                return step(**kwargs)
            self._handle(problems)
            zero_grad()

        wrapper.step = checked_step

    def _problems(self, wrapper, check_grads: bool) -> List[str]:
        problems = list(self._bad)
        if check_grads:
            params = [p for group in wrapper.optimizer.param_groups for p in group['params']]
            norm = _grad_norm(params)
            if not bool(torch.isfinite(norm)):
                problems.append(f'gradient norm={float(norm):g}')
        # One decision for all ranks: a NaN on one rank must stop every rank.
        if get_world_size() > 1 and torch_dist.is_initialized():
            flag = torch.tensor([float(bool(problems))])
            if torch.cuda.is_available() and torch_dist.get_backend() == 'nccl':
                flag = flag.cuda()
            torch_dist.all_reduce(flag, op=torch_dist.ReduceOp.MAX)
            if flag.item() > 0 and not problems:
                problems.append('non-finite loss or gradients on another rank')
        return problems

    def _handle(self, problems: List[str]) -> None:
        it = self._runner.iter + 1 if self._runner is not None else '?'
        what = ', '.join(problems)
        if self.action == 'skip':
            self._skipped += 1
            if self._skipped <= self.max_skips:
                print_log(f'iteration {it}: not finite: {what}; step skipped '
                          f'({self._skipped} in a row, at most {self.max_skips})',
                          logger='current', level=logging.WARNING)
                return
            raise NonFiniteLossError(
                f'iteration {it}: not finite: {what}, {self._skipped} steps in a row '
                f'(max_skips={self.max_skips}); training stopped')
        raise NonFiniteLossError(
            f'iteration {it}: not finite: {what}. Training stopped before the optimizer '
            'step, so the weights and the last checkpoint are still finite. Lower the '
            'learning rate or the loss weights, add gradient clipping (optim_wrapper.'
            "clip_grad), or set default_hooks.nonfinite_check.action='skip' to skip "
            'such steps.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        bad = _first_nonfinite(checkpoint.get('state_dict', {}))
        if bad is not None:
            raise NonFiniteLossError(
                f'refusing to save a checkpoint at iteration {runner.iter}: {bad} is not '
                'finite (the earlier checkpoints are kept)')


def _first_nonfinite(state_dict: dict) -> Optional[str]:
    for name, value in state_dict.items():
        if (isinstance(value, torch.Tensor) and value.is_floating_point()
                and not bool(torch.isfinite(value).all())):
            return name
    return None
