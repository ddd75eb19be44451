from .build import build_submodel
from .fpn_teacher_distill import FpnTeacherDistill
from .single_teacher_distill import SingleTeacherDistill

__all__ = ['build_submodel', 'SingleTeacherDistill', 'FpnTeacherDistill']
