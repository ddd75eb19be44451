from typing import Any, Tuple

from cankd.registry import TASK_UTILS
from ..recorders.patching import resolve_method
from .distill_delivery import DistillDelivery


@TASK_UTILS.register_module()
class MethodOutputsDelivery(DistillDelivery):
    """Delivers a method's outputs from teacher to student.

    ``method_path`` is ``'<module>.<Class>.<method>'``; the method is
    replaced on the class, so it applies to every instance. As mmrazor's
    ``MethodOutputsDelivery``; in a distiller config it is
    ``dict(type='MethodOutputs', method_path=..., max_keep_data=...)``.
    """

    min_dots = 2
    path_arg = 'method_path'

    def __init__(self, method_path: str, max_keep_data: int = 1) -> None:
        super().__init__(method_path, max_keep_data)

    @property
    def method_path(self) -> str:
        return self.path

    def resolve(self) -> Tuple[Any, str]:
        return resolve_method(self.path)
