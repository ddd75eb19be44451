"""cankd: knowledge distillation for dense prediction on OpenMMLab 2.x.

Importing the package installs the checkpoint-loading fix for torch >= 2.6
(see :mod:`cankd.utils.checkpoint`) and the lookup of mmdet 2.x / mmseg 0.x
config names in ``mmdet::``/``mmseg::`` paths (see
:mod:`cankd.utils.package_config`); modules register in the ``cankd``
registries when :mod:`cankd.models` & co. are imported (the registries'
``locations`` do that on first build in scope ``cankd``).
"""
from .utils.checkpoint import install_safe_loading
from .utils.package_config import install_legacy_config_names
from .version import __version__

install_safe_loading()
install_legacy_config_names()

__all__ = ['__version__']
