from .base_connector import BaseConnector
from .convmodule_connector import ConvModuleConnector

__all__ = ['BaseConnector', 'ConvModuleConnector']
