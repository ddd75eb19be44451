"""One line of progress for long loops: updated in place on a terminal, a few
plain lines in a log file or CI output (no carriage-return spam)."""
import sys
import time
from typing import Optional, TextIO

__all__ = ['ProgressLine', 'format_duration']


def format_duration(seconds: float) -> str:
    """``75`` -> ``'1:15'``, ``3725`` -> ``'1:02:05'``."""
    seconds = max(int(round(seconds)), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f'{hours}:{minutes:02d}:{secs:02d}' if hours else f'{minutes}:{secs:02d}'


class ProgressLine:
    """``label [#####-----]  34/100  0:12 elapsed, ETA 0:23  <status>``.

    Args:
        total: number of steps (``update`` calls' ``done`` goes up to it).
        label: what is progressing, at the start of the line.
        stream: where to write (default ``sys.stdout``).
        interactive: rewrite one line with ``\\r`` (default: ``stream.isatty()``);
            otherwise a full line is printed at most every ``log_interval``
            seconds and at every tenth of the way.
        log_interval: seconds between two lines when not interactive.
    """

    def __init__(self, total: int, label: str, stream: Optional[TextIO] = None,
                 interactive: Optional[bool] = None, log_interval: float = 30.0) -> None:
        self.total = max(int(total), 0)
        self.label = label
        self.stream = stream if stream is not None else sys.stdout
        if interactive is None:
            isatty = getattr(self.stream, 'isatty', None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self.log_interval = log_interval
        self.done = 0
        self.status = ''
        self.start = time.monotonic()
        self._base = 0  # steps done before start (a resumed run): not in the rate
        self._last_write = 0.0
        self._last_tenth = -1
        self._width = 0
        self._last_line = ''

    def _line(self) -> str:
        elapsed = time.monotonic() - self.start
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = '#' * int(frac * 20) + '-' * (20 - int(frac * 20))
            count = f'{self.done:>{len(str(self.total))}}/{self.total}'
            rate_steps = self.done - self._base
            eta = (f', ETA {format_duration(elapsed / rate_steps * (self.total - self.done))}'
                   if rate_steps > 0 and self.done < self.total else '')
            text = f'{self.label} [{bar}] {count}  {format_duration(elapsed)}{eta}'
        else:
            text = f'{self.label}  {format_duration(elapsed)}'
        return f'{text}  {self.status}' if self.status else text

    def restart(self, done: int = 0) -> None:
        """Start the clock now, ``done`` steps already done (set-up time and
        the steps of an earlier run then do not distort the ETA)."""
        self.start = time.monotonic()
        self.done = self._base = done

    def update(self, done: Optional[int] = None, status: Optional[str] = None,
               force: bool = False) -> None:
        """Set the step count (default: one more) and the status text; write if due."""
        self.done = self.done + 1 if done is None else done
        if status is not None:
            self.status = status
        now = time.monotonic()
        tenth = int(10 * self.done / self.total) if self.total else 0
        if self.interactive:
            due = force or now - self._last_write >= 0.2 or self.done >= self.total
        else:
            due = force or tenth > self._last_tenth or now - self._last_write >= self.log_interval
        if due:
            self._write(self._line())
            self._last_write = now
            self._last_tenth = tenth

    def _write(self, line: str) -> None:
        self._last_line = line
        if self.interactive:
            pad = ' ' * max(self._width - len(line), 0)
            self.stream.write('\r' + line + pad)
            self._width = len(line)
        else:
            self.stream.write(line + '\n')
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line of its own above the progress line (which is redrawn after it)."""
        if self.interactive and self._width:
            self.stream.write('\r' + ' ' * self._width + '\r')
            self._width = 0
        self.stream.write(text + '\n')
        self.stream.flush()
        if self.interactive and self._last_write:
            self._write(self._line())

    def close(self, status: Optional[str] = None) -> None:
        """Write the final state and end the line."""
        if status is not None:
            self.status = status
        line = self._line()
        if self.interactive:
            self._write(line)
            self.stream.write('\n')
            self.stream.flush()
        elif line != self._last_line:
            self._write(line)
