from typing import Any, Optional

from torch import nn
from torch.utils.hooks import RemovableHandle

from cankd.registry import MODELS, TASK_UTILS
from .base_recorder import BaseRecorder, closest_names


class _ModuleRecorder(BaseRecorder):
    """Records through a forward hook on the submodule named ``source``."""

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self._handle: Optional[RemovableHandle] = None

    def prepare_from_model(self, model: Optional[nn.Module] = None) -> None:
        if model is None:
            raise ValueError(f'{type(self).__name__}(source={self.source!r}) needs the '
                             'model: initialize(model)')
        modules = dict(model.named_modules())
        if self.source not in modules:
            names = [n for n in modules if n]
            raise ValueError(
                f'{type(self).__name__}: no module named {self.source!r} in '
                f'{type(model).__name__}. Closest names: '
                f'{closest_names(self.source, names)}. '
                'tools/analysis_tools/print_module_names.py lists them all.')
        if self._handle is not None:
            self._handle.remove()
        self._handle = modules[self.source].register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, inputs: tuple, outputs: Any) -> None:
        if self.recording:
            self.data_buffer.append(self.pick(inputs, outputs))

    def pick(self, inputs: tuple, outputs: Any) -> Any:
        raise NotImplementedError


@MODELS.register_module()
@TASK_UTILS.register_module(name='ModuleOutputsRecorder')  # mmrazor's class name
class ModuleOutputs(_ModuleRecorder):
    """Records what the submodule ``source`` returns (a tensor, or a tuple
    such as the FPN levels)."""

    def pick(self, inputs: tuple, outputs: Any) -> Any:
        return outputs


@MODELS.register_module()
@TASK_UTILS.register_module(name='ModuleInputsRecorder')  # mmrazor's class name
class ModuleInputs(_ModuleRecorder):
    """Records the positional inputs of the submodule ``source`` (a tuple;
    use ``data_idx=0`` for the first)."""

    def pick(self, inputs: tuple, outputs: Any) -> Any:
        return inputs
