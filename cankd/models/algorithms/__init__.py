from .build import build_submodel
from .crosskd_distill import CrossKDDistill
from .fpn_teacher_distill import FpnTeacherDistill
from .multi_teacher_distill import MultiTeacherDistill
from .single_teacher_distill import SingleTeacherDistill

__all__ = ['build_submodel', 'SingleTeacherDistill', 'FpnTeacherDistill', 'CrossKDDistill',
           'MultiTeacherDistill']
