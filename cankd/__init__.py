"""cankd: knowledge distillation for dense prediction on OpenMMLab 2.x.

Importing the package installs the checkpoint-loading fix for torch >= 2.6
(see :mod:`cankd.utils.checkpoint`); modules register in the ``cankd``
registries when :mod:`cankd.models` & co. are imported (the registries'
``locations`` do that on first build in scope ``cankd``).
"""
from .utils.checkpoint import install_safe_loading
from .version import __version__

install_safe_loading()

__all__ = ['__version__']
