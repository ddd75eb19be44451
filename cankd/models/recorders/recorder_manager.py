from typing import Dict, Optional

from torch import nn

from cankd.registry import MODELS
from .base_recorder import BaseRecorder


class RecorderManager:
    """A named set of recorders, used as a context manager around a forward.

    Entering clears the buffers and starts recording; leaving stops it, so
    features are only captured in the forward the distiller asked for.
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
            recorder.prepare_from_model(model)

    def get_recorder(self, name: str) -> BaseRecorder:
        if name not in self.recorders:
            raise KeyError(f'no recorder named {name!r}; valid: {sorted(self.recorders)}')
        return self.recorders[name]

    def __enter__(self) -> 'RecorderManager':
        for recorder in self.recorders.values():
            recorder.reset_data_buffer()
            recorder.recording = True
        return self

    def __exit__(self, *exc) -> None:
        for recorder in self.recorders.values():
            recorder.recording = False
