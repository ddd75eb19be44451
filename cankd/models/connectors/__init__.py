from .base_connector import BaseConnector
from .convmodule_connector import ConvModuleConnector
from .fbkd_student_connector import FBKDStudentConnector
from .fbkd_teacher_connector import FBKDTeacherConnector
from .mgd_connector import MGDConnector
from .norm_connector import NormConnector
from .ofd_teacher_connector import OFDTeacherConnector
from .paraphraser import Paraphraser
from .torch_functional_connector import TorchFunctionalConnector
from .torch_nn_connector import TorchNNConnector
from .translator import Translator

__all__ = ['BaseConnector', 'ConvModuleConnector', 'MGDConnector', 'NormConnector',
           'TorchFunctionalConnector', 'TorchNNConnector', 'FBKDStudentConnector',
           'FBKDTeacherConnector', 'Translator', 'Paraphraser', 'OFDTeacherConnector']
