from collections import OrderedDict
from typing import Optional

from .checkpoint import safe_load

STUDENT_PREFIX = 'architecture.'


def extract_student(checkpoint: dict) -> dict:
    """A plain mmdet/mmseg checkpoint of the student in a distillation checkpoint.

    Accepts cankd and mmrazor layouts (student weights under ``architecture.``)
    with or without a top-level ``state_dict``; teacher (``teacher.``) and
    distiller (``distiller.``) weights are dropped. ``meta`` is kept (minus the
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


def convert_kd_ckpt_to_student(src: str, dst: Optional[str] = None) -> dict:
    """Load ``src`` safely, extract the student, and save it atomically to ``dst``."""
    from .io import atomic_torch_save
    student = extract_student(safe_load(src, map_location='cpu'))
    if dst is not None:
        atomic_torch_save(student, dst)
    return student
