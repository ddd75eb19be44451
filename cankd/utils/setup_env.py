import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every cankd module so that it is in the ``cankd`` registries.

    Args:
        init_default_scope: make ``cankd`` the current default scope (as
            ``mmdet.utils.register_all_modules`` does for ``mmdet``).
    """
    import cankd.datasets  # noqa: F401
    import cankd.engine  # noqa: F401
    import cankd.models  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != 'cankd':
        if current is not None:
            warnings.warn(f'The current default scope "{current.scope_name}" is not '
                          '"cankd"; a new one named "cankd" is created.', stacklevel=2)
        DefaultScope.get_instance(
            f'cankd-{datetime.datetime.now()}', scope_name='cankd')
