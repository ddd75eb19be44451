from .exact_resume_hook import ExactResumeHook
from .nonfinite_check_hook import NonFiniteCheckHook, NonFiniteLossError

__all__ = ['NonFiniteCheckHook', 'NonFiniteLossError', 'ExactResumeHook']
