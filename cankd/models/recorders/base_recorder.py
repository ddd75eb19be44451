import difflib
from abc import abstractmethod
from typing import Any, List, Optional

from torch import nn


class BaseRecorder:
    """Captures data from a model during its forward (torchdistill-style:
    capture is kept apart from the losses that use it).

    Used as mmrazor's recorders are (``docs/en/advanced_guides/recorder.md``
    there): ``initialize(model)`` once, then ``with recorder:`` around a
    forward (entering clears ``data_buffer`` and starts recording, leaving
    stops it, also on an exception), then ``get_record_data(record_idx,
    data_idx)``. :class:`RecorderManager` does this for a named set.

    Args:
        source: where to record, e.g. ``'neck'`` or ``'backbone.layer4'``.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.recording = False
        self.data_buffer: List[Any] = []
        self._initialized = False

    @abstractmethod
    def prepare_from_model(self, model: Optional[nn.Module] = None) -> None:
        """Attach to ``model``; raise ``ValueError`` if ``source`` is absent."""

    def initialize(self, model: Optional[nn.Module] = None) -> None:
        """Attach to ``model`` (unused by method/function recorders); needed
        once before ``with recorder:``, as in mmrazor."""
        self.prepare_from_model(model)
        self._initialized = True

    def reset_data_buffer(self) -> None:
        self.data_buffer = []

    def __enter__(self) -> 'BaseRecorder':
        if not self._initialized:
            raise RecorderNotInitializedError(
                f'{type(self).__name__}(source={self.source!r}): call '
                'initialize(model) before "with recorder:" (RecorderManager.initialize '
                'does it for its recorders)')
        self.reset_data_buffer()
        self.recording = True
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        self.recording = False

    def get_record_data(self,
                        record_idx: int = 0,
                        data_idx: Optional[int] = None) -> Any:
        """The ``record_idx``-th capture (a module may run several times per
        forward), or its ``data_idx``-th item when it is a tuple/list (e.g.
        one FPN level)."""
        if not self.data_buffer:
            raise RuntimeError(
                f'{type(self).__name__}(source={self.source!r}) recorded nothing: '
                'the source did not run in this forward (is it on the forward path '
                'of the mode being run?)')
        if record_idx >= len(self.data_buffer):
            raise IndexError(
                f'record_idx={record_idx} but {self.source!r} ran '
                f'{len(self.data_buffer)} time(s) in this forward')
        record = self.data_buffer[record_idx]
        if data_idx is None:
            return record
        if not isinstance(record, (list, tuple)):
            raise TypeError(
                f'data_idx={data_idx} given but {self.source!r} recorded a '
                f'{type(record).__name__}, not a tuple/list: drop data_idx')
        if not -len(record) <= data_idx < len(record):
            raise IndexError(
                f'data_idx={data_idx} out of range: {self.source!r} recorded '
                f'{len(record)} items (valid: 0..{len(record) - 1})')
        return record[data_idx]


class RecorderNotInitializedError(RuntimeError, AssertionError):
    """``with recorder:`` before ``initialize``; also an ``AssertionError``,
    which is what mmrazor raises there."""


def closest_names(name: str, candidates: List[str], n: int = 8) -> str:
    """A short list of the names nearest to ``name`` for error messages."""
    close = difflib.get_close_matches(name, candidates, n=n, cutoff=0.4)
    if not close:
        top = sorted({c.split('.')[0] for c in candidates if c})
        close = top[:n]
    return ', '.join(repr(c) for c in close)
