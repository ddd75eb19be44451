from .base_connector import BaseConnector
from .convmodule_connector import ConvModuleConnector
from .mgd_connector import MGDConnector

__all__ = ['BaseConnector', 'ConvModuleConnector', 'MGDConnector']
