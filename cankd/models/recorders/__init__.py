from .base_recorder import BaseRecorder
from .function_recorder import FunctionInputs, FunctionOutputs
from .method_recorder import MethodInputs, MethodOutputs
from .module_recorder import ModuleInputs, ModuleOutputs
from .parameter_recorder import Parameter
from .recorder_manager import RecorderManager

# mmrazor's class names, for code that builds recorders itself.
ModuleOutputsRecorder = ModuleOutputs
ModuleInputsRecorder = ModuleInputs
MethodOutputsRecorder = MethodOutputs
MethodInputsRecorder = MethodInputs
FunctionOutputsRecorder = FunctionOutputs
FunctionInputsRecorder = FunctionInputs
ParameterRecorder = Parameter

__all__ = ['BaseRecorder', 'ModuleOutputs', 'ModuleInputs', 'MethodOutputs', 'MethodInputs',
           'FunctionOutputs', 'FunctionInputs', 'Parameter', 'RecorderManager']
