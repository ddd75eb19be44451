import inspect
from typing import Any, Tuple

from cankd.registry import MODELS, TASK_UTILS
from .patch_recorder import PatchRecorder
from .patching import resolve_method


@MODELS.register_module()
@TASK_UTILS.register_module(name='MethodOutputsRecorder')  # mmrazor's class name
class MethodOutputs(PatchRecorder):
    """Records what a method returns, once per call, on every instance of
    the class (teacher and student alike: record inside the teacher's or the
    student's forward only, as ``SingleTeacherDistill`` does).

    ``source`` is ``'<module>.<Class>.<method>'``, e.g.
    ``'mmdet.models.dense_heads.retina_head.RetinaHead.forward_single'``: a
    RetinaHead runs it once per FPN level, so ``record_idx=i`` is level i and
    ``data_idx=0`` its ``cls_score`` (N x A*K x H_i x W_i). As mmrazor's
    ``MethodOutputsRecorder``.
    """

    min_dots = 2

    def resolve(self) -> Tuple[Any, str]:
        return resolve_method(self.source)

    def pick(self, args: tuple, kwargs: dict, outputs: Any, params: list) -> Any:
        return outputs


@MODELS.register_module()
@TASK_UTILS.register_module(name='MethodInputsRecorder')  # mmrazor's class name
class MethodInputs(MethodOutputs):
    """Records the arguments of each call of a method as a list: positional
    ones without ``self``, then keyword ones in signature order (defaults not
    filled in), as mmrazor's ``MethodInputsRecorder``: ``toy.func(1, 2)`` and
    ``toy.func(y=2, x=1)`` both record ``[1, 2]``."""

    _bound = True

    def pick(self, args: tuple, kwargs: dict, outputs: Any, params: list) -> Any:
        if params and params[0] == 'self' and self._bound:
            args, params = args[1:], params[1:]
        return list(args) + [kwargs[name] for name in params if name in kwargs]

    def __enter__(self) -> 'MethodInputs':
        cls, name = self.resolve()
        # A static method gets no instance to drop.
        self._bound = not isinstance(inspect.getattr_static(cls, name), staticmethod)
        return super().__enter__()
