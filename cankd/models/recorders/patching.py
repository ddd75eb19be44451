"""Find a function of a module or a method of a class by its dotted path and
replace it for the length of a ``with`` block, restoring it on exit (also on
an exception). Method/function recorders and deliveries are built on this.

Semantics follow mmrazor's ``FunctionOutputsRecorder`` /
``MethodOutputsRecorder`` (mmrazor/models/task_modules/recorder/): a function
path names the module where the function is *looked up* (e.g.
``'mmdet.models.dense_heads.anchor_head.anchor_inside_flags'``, not where it
is defined), a method path is ``'<module>.<Class>.<method>'`` and the method
is replaced on the class, so every instance (teacher and student alike) runs
the replacement while the block is open.
"""
import importlib
import inspect
from types import FunctionType, ModuleType
from typing import Any, Callable, Tuple

_MISSING = object()


class SourceError(ValueError, AssertionError):
    """A malformed or unknown dotted path. Also an ``AssertionError``, which is
    what mmrazor raises for these."""


def check_path(path: Any, min_dots: int, arg: str = 'source') -> None:
    """``path`` must be a str with at least ``min_dots`` dots."""
    if not isinstance(path, str):
        raise TypeError(f'{arg} should be a str instance, but got {type(path)}')
    if path.count('.') < min_dots:
        form = '<module>.<function>' if min_dots == 1 else '<module>.<Class>.<method>'
        raise SourceError(f'{arg} {path!r} must have at least {min_dots} "." ({form})')


def import_module(module_path: str) -> ModuleType:
    try:
        return importlib.import_module(module_path)
    except ImportError as exc:
        raise ImportError(f'{module_path} is not imported correctly: {exc}') from exc


def resolve_function(path: str) -> Tuple[ModuleType, str]:
    """(module, name) of the plain function at ``'<module>.<function>'``."""
    module_path, name = path.rsplit('.', 1)
    module = import_module(module_path)
    if not hasattr(module, name):
        raise SourceError(f'{name} is not in {module_path}')
    if not isinstance(getattr(module, name), FunctionType):
        raise TypeError(f'{name} should be a FunctionType instance, but got '
                        f'{type(getattr(module, name))}')
    return module, name


def resolve_method(path: str) -> Tuple[type, str]:
    """(class, name) of the method at ``'<module>.<Class>.<method>'``; plain
    and static methods (class methods and properties are refused)."""
    module_path, cls_name, name = path.rsplit('.', 2)
    module = import_module(module_path)
    cls = getattr(module, cls_name, None)
    if cls is None:
        raise SourceError(f'{cls_name} is not in {module_path}')
    if not isinstance(cls, type):
        raise TypeError(f'{cls_name} should be a type instance, but got {type(cls)}')
    raw = inspect.getattr_static(cls, name, _MISSING)
    if raw is _MISSING:
        raise SourceError(f'{name} is not in {cls_name}')
    if not isinstance(raw, (FunctionType, staticmethod)):
        raise TypeError(f'{cls_name}.{name} should be a FunctionType instance (a '
                        f'method or static method), but got {type(raw)}')
    return cls, name


class Patch:
    """Context manager: ``owner.name`` becomes ``make_wrapper(current)``.

    ``owner`` is a module or a class. Entering wraps whatever is there now
    (so nested patches of the same function stack); leaving puts back exactly
    what was in the owner's ``__dict__`` (an inherited method is deleted from
    the subclass again).
    """

    def __init__(self, owner: Any, name: str,
                 make_wrapper: Callable[[Callable], Callable]) -> None:
        self.owner, self.name, self.make_wrapper = owner, name, make_wrapper
        self._saved = _MISSING

    def __enter__(self) -> 'Patch':
        self._saved = vars(self.owner).get(self.name, _MISSING)
        raw = inspect.getattr_static(self.owner, self.name)
        if isinstance(raw, staticmethod):
            wrapped = staticmethod(self.make_wrapper(raw.__func__))
        else:
            wrapped = self.make_wrapper(raw)
        setattr(self.owner, self.name, wrapped)
        return self

    def __exit__(self, *exc) -> None:
        if self._saved is _MISSING:
            delattr(self.owner, self.name)
        else:
            setattr(self.owner, self.name, self._saved)
        self._saved = _MISSING


def exit_all(contexts, exc_type, exc_value, traceback) -> None:
    """Leave every context; re-raise the first error only after all left."""
    error = None
    for context in contexts:
        try:
            context.__exit__(exc_type, exc_value, traceback)
        except BaseException as exc:  # noqa: BLE001
            error = error or exc
    if error is not None:
        raise error
