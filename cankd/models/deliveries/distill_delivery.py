import functools
from collections import deque
from typing import Any, Callable, Optional, Tuple

from ..recorders.patching import Patch, check_path


class DeliveryQueueError(RuntimeError, AssertionError):
    """A delivery replayed more calls than were recorded, or recorded more
    than ``max_keep_data``. Also an ``AssertionError``, which is what mmrazor
    raises ('pop from an empty queue' / 'push into an full queue')."""


class DistillDelivery:
    """Records the outputs of a function or method in one forward (the
    teacher's) and replays them, in call order, in another (the student's).

    mmrazor's ``DistillDelivery`` (mmrazor/models/task_modules/delivery/):
    with ``override_data=False``, ``with delivery:`` calls the original and
    pushes each output into ``data_queue`` (at most ``max_keep_data``); with
    ``override_data=True`` each call returns the oldest queued output instead
    of calling the original, so e.g. random sampling inside a head draws the
    same values for the student as it did for the teacher. The queue is kept
    between ``with`` blocks; leaving a block restores the original (also on
    an exception).

    Args:
        path: dotted path of the function or method, checked at build time.
        max_keep_data: queue length: at least the number of calls in one
            teacher forward. mmrazor's argument.
    """

    min_dots = 1
    path_arg = 'func_path'

    def __init__(self, path: str, max_keep_data: int = 1) -> None:
        check_path(path, self.min_dots, self.path_arg)
        if not isinstance(max_keep_data, int) or max_keep_data < 1:
            raise ValueError(f'max_keep_data must be an int >= 1, got {max_keep_data!r}')
        self.path = path
        self.max_keep_data = max_keep_data
        self.data_queue: deque = deque([], maxlen=max_keep_data)
        self.override_data = False
        self._patch: Optional[Patch] = None
        self.resolve()  # an unknown path fails when the distiller is built

    def resolve(self) -> Tuple[Any, str]:
        """(owner, attribute name) to patch: a module or a class."""
        raise NotImplementedError

    def make_wrapper(self, origin: Callable) -> Callable:

        @functools.wraps(origin)
        def deliver(*args, **kwargs):
            if self.override_data:
                if not self.data_queue:
                    raise DeliveryQueueError(
                        f'pop from an empty queue: {self.path} was called more often '
                        'while replaying (student) than while recording (teacher); does '
                        "the teacher's forward run it (SingleTeacherDistill runs the "
                        "teacher with mode='loss' when deliveries are set)?")
                return self.data_queue.popleft()
            if len(self.data_queue) >= self.max_keep_data:
                raise DeliveryQueueError(
                    f'push into an full queue: {self.path} already holds '
                    f'max_keep_data={self.max_keep_data} outputs not yet replayed; raise '
                    'max_keep_data to the number of calls in one forward')
            outputs = origin(*args, **kwargs)
            self.data_queue.append(outputs)
            return outputs

        return deliver

    def __enter__(self) -> 'DistillDelivery':
        owner, name = self.resolve()
        self._patch = Patch(owner, name, self.make_wrapper).__enter__()
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        if self._patch is not None:
            self._patch.__exit__(exc_type, exc_value, traceback)
        self._patch = None  # holds a module: not kept (deepcopy / pickling)
