import torch

from cankd.registry import MODELS
from .single_teacher_distill import SingleTeacherDistill


@MODELS.register_module()
class FpnTeacherDistill(SingleTeacherDistill):
    """:class:`SingleTeacherDistill` whose teacher runs only ``extract_feat``
    (backbone + neck): enough for FPN-feature distillation such as CanKD on
    detectors, and cheaper than the teacher's heads."""

    def teacher_forward(self, inputs: torch.Tensor, data_samples) -> None:
        self.teacher.extract_feat(inputs)
