"""Atomic writes: a temporary file in the destination folder, then a rename.

Temporary files are named ``.tmp-cankd-<pid>-<random><suffix>`` so that
:func:`remove_stale_temporaries` can tell ours, left behind by a killed
process, from anything else (or from a save still running in another live
process).
"""
import glob
import json
import os
import os.path as osp
import re
import tempfile
from typing import Any, Callable, List

import torch

TMP_PREFIX = '.tmp-cankd-'
_TMP_RE = re.compile(re.escape(TMP_PREFIX) + r'(\d+)-')


def _default_file_mode() -> int:
    """The mode ``open(path, 'w')`` would give a new file (0o666 less umask);
    ``mkstemp`` creates 0o600, which other users of a shared work dir
    could not read."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _temporary(path: str, suffix: str):
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'{TMP_PREFIX}{os.getpid()}-', suffix=suffix)
    os.fchmod(fd, _default_file_mode())
    return fd, tmp


def atomic_write(path: str, write: Callable[[str], Any]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path`` (same suffix, so
    writers that read the format from the name work), then rename it onto
    ``path``: a reader never sees half a file, an interrupted write leaves
    ``path`` as it was. The file gets the permissions ``open(path, 'w')``
    would give it (``mkstemp`` alone makes 0600)."""
    fd, tmp = _temporary(path, osp.splitext(path)[1])
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def save_png(fig, path: str, dpi: int = 120) -> None:
    """Save a matplotlib figure as PNG through :func:`atomic_write`, then
    close it (also when the save fails: pyplot keeps open figures alive)."""
    import matplotlib.pyplot as plt
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format='png'))
    finally:
        plt.close(fig)


def atomic_torch_save(obj: Any, path: str) -> None:
    """``torch.save`` through :func:`atomic_write`: an interrupted save never
    leaves a half-written checkpoint at ``path``."""
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def atomic_write_text(text: str, path: str) -> None:
    """Write ``text`` through :func:`atomic_write`."""
    def write(tmp: str) -> None:
        with open(tmp, 'w') as f:
            f.write(text)
    atomic_write(path, write)


def atomic_write_json(obj: Any, path: str) -> None:
    """Write ``obj`` as JSON through a temporary file and a rename."""
    atomic_write_text(json.dumps(obj, indent=2), path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def remove_stale_temporaries(folder: str) -> List[str]:
    """Delete cankd temporaries in ``folder`` whose writing process is gone
    (a save killed mid-write leaves one, up to a checkpoint in size).

    Only files named by :func:`atomic_torch_save` & co. are touched, and not
    those of a process that is still running. Returns the removed paths.
    """
    removed = []
    for tmp in glob.glob(osp.join(glob.escape(folder), TMP_PREFIX + '*')):
        found = _TMP_RE.match(osp.basename(tmp))
        if found is None or _pid_alive(int(found.group(1))):
            continue
        try:
            os.remove(tmp)
        except FileNotFoundError:
            continue
        removed.append(tmp)
    return removed
