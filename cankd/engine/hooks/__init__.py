from .exact_resume_hook import ExactResumeHook
from .nonfinite_check_hook import NonFiniteCheckHook, NonFiniteLossError
from .razor_visualization_hook import RazorVisualizationHook
from .stop_distill_hook import StopDistillHook
from .yolox_student_hook import DistillYOLOXModeSwitchHook

__all__ = ['NonFiniteCheckHook', 'NonFiniteLossError', 'ExactResumeHook',
           'DistillYOLOXModeSwitchHook', 'RazorVisualizationHook', 'StopDistillHook']
