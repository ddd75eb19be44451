from typing import Any, Tuple

from cankd.registry import MODELS, TASK_UTILS
from .patch_recorder import PatchRecorder
from .patching import resolve_function


@MODELS.register_module()
@TASK_UTILS.register_module(name='FunctionOutputsRecorder')  # mmrazor's class name
class FunctionOutputs(PatchRecorder):
    """Records what a module-level function returns, once per call.

    ``source`` is ``'<module>.<function>'`` in the module that *calls* it,
    e.g. ``'mmdet.models.dense_heads.anchor_head.anchor_inside_flags'`` (the
    function is replaced in that module's namespace only). As mmrazor's
    ``FunctionOutputsRecorder``::

        r = FunctionOutputs('cankd.testing.toy_functions.toy_func')
        r.initialize()
        with r:
            cankd.testing.toy_functions.toy_func(3)
        r.data_buffer  # [3]
    """

    def resolve(self) -> Tuple[Any, str]:
        return resolve_function(self.source)

    def pick(self, args: tuple, kwargs: dict, outputs: Any, params: list) -> Any:
        return outputs


@MODELS.register_module()
@TASK_UTILS.register_module(name='FunctionInputsRecorder')  # mmrazor's class name
class FunctionInputs(FunctionOutputs):
    """Records the arguments a module-level function was called with, as a
    list per call: the positional ones, then the keyword ones in the order of
    the function's signature (defaults not filled in), as mmrazor's
    ``FunctionInputsRecorder``: ``f(1, 2)``, ``f(1, b=2)`` and ``f(b=2, a=1)``
    all record ``[1, 2]``."""

    def pick(self, args: tuple, kwargs: dict, outputs: Any, params: list) -> Any:
        return list(args) + [kwargs[name] for name in params if name in kwargs]
