from .configurable_distiller import ConfigurableDistiller
from .multi_teacher_distiller import MultiTeacherDistiller

__all__ = ['ConfigurableDistiller', 'MultiTeacherDistiller']
