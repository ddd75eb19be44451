from typing import Optional

import torch
import torch.nn.functional as F

from cankd.registry import MODELS
from .base_connector import BaseConnector

# The functions mmrazor allows (its FUNCTION_LIST).
FUNCTION_LIST = ('adaptive_avg_pool2d', 'adaptive_max_pool2d', 'avg_pool2d', 'dropout',
                 'dropout2d', 'max_pool2d', 'normalize', 'relu', 'softmax', 'interpolate')


@MODELS.register_module()
class TorchFunctionalConnector(BaseConnector):
    """Applies ``torch.nn.functional.<function_name>(x, **func_args)``
    (mmrazor's ``TorchFunctionalConnector``), e.g.
    ``function_name='avg_pool2d', func_args=dict(kernel_size=4)`` maps
    N x C x 16 x 16 to N x C x 4 x 4.

    Args:
        function_name: one of :data:`FUNCTION_LIST`; required.
        func_args: keyword arguments of the function.
        init_cfg: mmengine init config.
    """

    def __init__(self, function_name: Optional[str] = None,
                 func_args: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if function_name is None:
            raise _MissingArgument('TorchFunctionalConnector: function_name is required; '
                                   f'one of {list(FUNCTION_LIST)}')
        if function_name not in FUNCTION_LIST:
            raise ValueError(f'TorchFunctionalConnector: function_name {function_name!r} is '
                             f'not supported; valid: {list(FUNCTION_LIST)}')
        self.function_name = function_name
        self.func = getattr(F, function_name)
        self.func_args = dict(func_args or {})

    def forward_train(self, x: torch.Tensor) -> torch.Tensor:
        return self.func(x, **self.func_args)


class _MissingArgument(ValueError, AssertionError):
    """A required argument left out (mmrazor asserts, hence AssertionError)."""
