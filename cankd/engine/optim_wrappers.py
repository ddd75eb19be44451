"""Mixed precision on CPU: bf16 autocast without a GradScaler.

mmengine's ``AmpOptimWrapper`` asserts a CUDA/NPU/MLU/MUSA device (its
GradScaler is a GPU feature). On CPU, torch autocasts to bfloat16, whose
exponent range is fp32's: gradients cannot underflow the way fp16's do, so no
loss scaling is needed and the rest of :class:`~mmengine.optim.OptimWrapper`
(gradient accumulation, clipping, state dict) is used as is.

``tools/train.py --amp`` picks this wrapper on a machine without an
accelerator and mmengine's ``AmpOptimWrapper`` otherwise. In a config::

    optim_wrapper = dict(type='cankd.CPUAmpOptimWrapper', optimizer=dict(...))
"""
from contextlib import contextmanager
from typing import Union

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from cankd.registry import OPTIM_WRAPPERS

__all__ = ['CPUAmpOptimWrapper', 'enable_amp']


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """An :class:`~mmengine.optim.OptimWrapper` whose forward pass runs under
    ``torch.autocast('cpu', dtype)``.

    Args:
        dtype: the autocast dtype, ``'bfloat16'`` (default; the CPU autocast
            dtype) or ``'float16'`` (no GradScaler here: small gradients may
            underflow, prefer bfloat16).
        **kwargs: :class:`~mmengine.optim.OptimWrapper`'s arguments
            (``optimizer``, ``accumulative_counts``, ``clip_grad``).
    """
    valid_dtypes = ('bfloat16', 'float16')

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16', **kwargs) -> None:
        if 'loss_scale' in kwargs:
            raise TypeError(
                'CPUAmpOptimWrapper takes no loss_scale: bfloat16 autocast needs no '
                'GradScaler; remove loss_scale from optim_wrapper (it belongs to '
                'mmengine\'s GPU AmpOptimWrapper)')
        if isinstance(dtype, torch.dtype):
            dtype = str(dtype).replace('torch.', '')
        if dtype not in self.valid_dtypes:
            raise ValueError(f'CPUAmpOptimWrapper: dtype must be one of '
                             f'{self.valid_dtypes}, got {dtype!r}')
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype)

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient-accumulation context of the parent plus CPU autocast."""
        with super().optim_context(model), torch.autocast('cpu', dtype=self.cast_dtype):
            yield


_SWITCHABLE = ('OptimWrapper', 'AmpOptimWrapper', 'CPUAmpOptimWrapper',
               'cankd.CPUAmpOptimWrapper')


def enable_amp(cfg, has_accelerator: bool) -> str:
    """Switch ``cfg.optim_wrapper`` to mixed precision in place (``--amp``).

    With an accelerator: mmengine's ``AmpOptimWrapper`` (``loss_scale='dynamic'``
    unless the config sets one). Without: :class:`CPUAmpOptimWrapper`, bf16
    autocast with no loss scaling.

    Returns:
        The optim wrapper type now in the config.

    Raises:
        ValueError: the config has no ``optim_wrapper``, or one of a type that
            cannot be switched (only ``OptimWrapper`` and the AMP wrappers can).
    """
    optim_wrapper = cfg.get('optim_wrapper')
    if optim_wrapper is None:
        raise ValueError('the config has no optim_wrapper to switch to mixed precision; '
                         'add optim_wrapper=dict(type=\'OptimWrapper\', optimizer=...)')
    kind = optim_wrapper.get('type', 'OptimWrapper')
    if kind not in _SWITCHABLE:
        raise ValueError(f'only an optim_wrapper of type {", ".join(_SWITCHABLE[:2])} can be '
                         f'switched to mixed precision, the config has {kind!r}')
    if has_accelerator:
        optim_wrapper.type = 'AmpOptimWrapper'
        optim_wrapper.setdefault('loss_scale', 'dynamic')
    else:
        # mmengine's GPU wrapper options that mean nothing without a GradScaler
        optim_wrapper.pop('loss_scale', None)
        if optim_wrapper.get('dtype') not in CPUAmpOptimWrapper.valid_dtypes:
            optim_wrapper.pop('dtype', None)
        optim_wrapper.type = 'cankd.CPUAmpOptimWrapper'
    return optim_wrapper.type
