from typing import Dict, Optional

from torch import nn

from cankd.registry import MODELS
from .base_recorder import BaseRecorder
from .patching import exit_all


class RecorderManager:
    """A named set of recorders, used as a context manager around a forward.

    Entering enters every recorder (clears its buffer, starts recording,
    patches methods/functions); leaving leaves them all, also when the
    forward raised, so features are only captured in the forward the
    distiller asked for and no patched method outlives the block. As
    mmrazor's ``RecorderManager``: ``recorders`` maps names to configs
    (``type`` as in mmrazor's configs: ``'ModuleOutputs'``, ``'Parameter'``,
    ...) or to built recorders; ``initialize(model)`` attaches them.
    """

    def __init__(self, recorders: Optional[Dict[str, dict]] = None) -> None:
        self.recorders: Dict[str, BaseRecorder] = {}
        for name, cfg in (recorders or {}).items():
            recorder = MODELS.build(cfg) if isinstance(cfg, dict) else cfg
            if not isinstance(recorder, BaseRecorder):
                raise TypeError(f'recorder {name!r} built a {type(recorder).__name__}, '
                                'not a recorder (ModuleOutputs, ModuleInputs, ...)')
            self.recorders[name] = recorder

    def initialize(self, model: nn.Module) -> None:
        for recorder in self.recorders.values():
            recorder.initialize(model)

    def get_recorder(self, name: str) -> BaseRecorder:
        if name not in self.recorders:
            raise KeyError(f'no recorder named {name!r}; valid: {sorted(self.recorders)}')
        return self.recorders[name]

    def __enter__(self) -> 'RecorderManager':
        entered = []
        try:
            for recorder in self.recorders.values():
                recorder.__enter__()
                entered.append(recorder)
        except BaseException as exc:
            exit_all(reversed(entered), type(exc), exc, exc.__traceback__)
            raise
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        # Last in, first out: nested patches of one method unwind in order.
        exit_all(reversed(list(self.recorders.values())), exc_type, exc_value, traceback)

