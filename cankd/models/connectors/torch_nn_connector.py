from typing import Optional

import torch
from torch import nn

from cankd.registry import MODELS
from .base_connector import BaseConnector
from .torch_functional_connector import _MissingArgument

# The modules mmrazor allows (its MODULE_LIST).
MODULE_LIST = ('AdaptiveAvgPool2d', 'AdaptiveMaxPool2d', 'AvgPool2d', 'BatchNorm2d', 'Conv2d',
               'Dropout', 'Dropout2d', 'Linear', 'MaxPool2d', 'ReLU', 'Softmax')


@MODELS.register_module()
class TorchNNConnector(BaseConnector):
    """Applies ``torch.nn.<module_name>(**module_args)`` (mmrazor's
    ``TorchNNConnector``), e.g. ``module_name='AvgPool2d',
    module_args=dict(kernel_size=4)``: N x C x 16 x 16 -> N x C x 4 x 4.
    The module is ``self.func`` (its parameters are ``func.*``, as in
    mmrazor's checkpoints).

    Args:
        module_name: one of :data:`MODULE_LIST`; required.
        module_args: keyword arguments of the module's constructor.
        init_cfg: mmengine init config.
    """

    def __init__(self, module_name: Optional[str] = None,
                 module_args: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if module_name is None:
            raise _MissingArgument('TorchNNConnector: module_name is required; one of '
                                   f'{list(MODULE_LIST)}')
        if module_name not in MODULE_LIST:
            raise ValueError(f'TorchNNConnector: module_name {module_name!r} is not '
                             f'supported; valid: {list(MODULE_LIST)}')
        self.func = getattr(nn, module_name)(**dict(module_args or {}))

    def forward_train(self, x: torch.Tensor) -> torch.Tensor:
        return self.func(x)
