from typing import Any, Tuple

from cankd.registry import TASK_UTILS
from ..recorders.patching import resolve_function
from .distill_delivery import DistillDelivery


@TASK_UTILS.register_module()
class FunctionOutputsDelivery(DistillDelivery):
    """Delivers a module-level function's outputs from teacher to student.

    ``func_path`` names the function in the module that *calls* it (e.g.
    ``'mmdet.models.dense_heads.anchor_head.anchor_inside_flags'``), as in
    mmrazor's ``FunctionOutputsDelivery``; in a distiller config it is
    ``dict(type='FunctionOutputs', func_path=..., max_keep_data=...)``.
    """

    def __init__(self, func_path: str, max_keep_data: int = 1) -> None:
        super().__init__(func_path, max_keep_data)

    @property
    def func_path(self) -> str:
        return self.path

    def resolve(self) -> Tuple[Any, str]:
        return resolve_function(self.path)
