from .configurable_distiller import ConfigurableDistiller

__all__ = ['ConfigurableDistiller']
