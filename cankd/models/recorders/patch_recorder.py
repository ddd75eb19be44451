import functools
import inspect
from typing import Any, Callable, Optional, Tuple

from torch import nn

from .base_recorder import BaseRecorder
from .patching import Patch, check_path


class PatchRecorder(BaseRecorder):
    """Base of the method/function recorders: while ``with recorder:`` is
    open, the function or method named by ``source`` is replaced by a wrapper
    that calls it and appends :meth:`pick` of the call to ``data_buffer``;
    leaving the block (also on an exception) restores the original.

    ``source`` is checked when the recorder is built and resolved by
    ``initialize`` (mmrazor resolves a function only on entering), so a typo
    fails before the first training step.
    """

    min_dots = 1

    def __init__(self, source: str) -> None:
        check_path(source, self.min_dots)
        super().__init__(source)
        self._patch: Optional[Patch] = None

    def resolve(self) -> Tuple[Any, str]:
        """(owner, attribute name) to patch: a module or a class."""
        raise NotImplementedError

    def prepare_from_model(self, model: Optional[nn.Module] = None) -> None:
        """``model`` is not used: the source is a path, not a submodule."""
        self.resolve()

    def pick(self, args: tuple, kwargs: dict, outputs: Any, params: list) -> Any:
        raise NotImplementedError

    def make_wrapper(self, origin: Callable) -> Callable:
        params = list(self.signature_of(origin))

        @functools.wraps(origin)
        def record(*args, **kwargs):
            outputs = origin(*args, **kwargs)
            if self.recording:
                self.data_buffer.append(self.pick(args, kwargs, outputs, params))
            return outputs

        return record

    @staticmethod
    def signature_of(origin: Callable) -> list:
        try:
            return list(inspect.signature(origin).parameters)
        except (TypeError, ValueError):
            return []

    def __enter__(self) -> 'PatchRecorder':
        super().__enter__()
        try:
            owner, name = self.resolve()
            self._patch = Patch(owner, name, self.make_wrapper).__enter__()
        except BaseException:
            self.recording = False
            raise
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        try:
            if self._patch is not None:
                self._patch.__exit__(exc_type, exc_value, traceback)
        finally:
            # A Patch holds the module/class: not kept, so the recorder can
            # be deep-copied (EMA) and pickled, as in mmrazor.
            self._patch = None
            super().__exit__(exc_type, exc_value, traceback)
