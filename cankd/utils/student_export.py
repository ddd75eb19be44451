import os
import os.path as osp
from collections import OrderedDict
from typing import Optional

from .checkpoint import safe_load

STUDENT_PREFIX = 'architecture.'


def extract_student(checkpoint: dict) -> dict:
    """A plain mmdet/mmseg checkpoint of the student in a distillation checkpoint.

    Accepts cankd and mmrazor layouts (student weights under ``architecture.``)
    with or without a top-level ``state_dict``; teacher (``teacher.``, or
    ``teachers.<name>.`` for MultiTeacherDistill) and distiller
    (``distiller.``) weights are dropped. ``meta`` is kept (minus the
    distillation config) so mmdet/mmseg find ``dataset_meta``.
    """
    state = checkpoint.get('state_dict', checkpoint)
    student = OrderedDict(
        (k[len(STUDENT_PREFIX):], v) for k, v in state.items() if k.startswith(STUDENT_PREFIX))
    if not student:
        prefixes = sorted({k.split('.')[0] for k in state})
        raise ValueError(f'no "{STUDENT_PREFIX}*" weights in this checkpoint (top-level '
                         f'prefixes: {prefixes}); is it a distillation checkpoint?')
    meta = dict(checkpoint.get('meta', {}) or {})
    for key in ('cfg', 'config'):
        meta.pop(key, None)
    return {'state_dict': student, 'meta': meta}


def check_export_target(src: str, dst: str, force: bool = False) -> None:
    """Refuse an output that would destroy work or cannot be written: the input
    itself, an existing file without ``force``, a directory, a path under a
    file. A missing folder is created when saving."""
    if osp.isdir(dst):
        raise IsADirectoryError(f'--out-path {dst} is a directory; give a file path such as '
                                f'{osp.join(dst, "student.pth")}')
    if osp.exists(dst) and osp.exists(src) and osp.samefile(src, dst):
        raise ValueError(f'--out-path {dst} is the input checkpoint: exporting onto it would '
                         'replace the distillation checkpoint with the student; write the '
                         'student to another file')
    if osp.exists(dst) and not force:
        raise FileExistsError(f'--out-path {dst} exists; pass --force to overwrite it')
    folder = osp.dirname(osp.abspath(dst))
    if osp.exists(folder) and not osp.isdir(folder):
        raise NotADirectoryError(f'--out-path {dst}: {folder} is a file, not a folder')
    if osp.isdir(folder) and not os.access(folder, os.W_OK):
        raise PermissionError(f'--out-path {dst}: folder {folder} is not writable')


def convert_kd_ckpt_to_student(src: str, dst: Optional[str] = None,
                               force: bool = False) -> dict:
    """Load ``src`` safely, extract the student, and save it atomically to
    ``dst`` (checked first by :func:`check_export_target`)."""
    from .io import atomic_torch_save
    if dst is not None:
        check_export_target(src, dst, force)
    student = extract_student(safe_load(src, map_location='cpu'))
    if dst is not None:
        atomic_torch_save(student, dst)
    return student
