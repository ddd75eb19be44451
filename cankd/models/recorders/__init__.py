from .base_recorder import BaseRecorder
from .module_recorder import ModuleInputs, ModuleOutputs
from .recorder_manager import RecorderManager

__all__ = ['BaseRecorder', 'ModuleOutputs', 'ModuleInputs', 'RecorderManager']
