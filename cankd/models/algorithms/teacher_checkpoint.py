"""Load a teacher checkpoint and refuse one that does not fit the teacher.

mmengine's ``load_checkpoint(strict=False)`` accepts any file and buries the
key mismatch in a log warning, so a student's checkpoint, a distillation
checkpoint or another architecture's weights silently leave the teacher
random, and the student is distilled from noise.
"""
import logging
from typing import List

import torch
from mmengine.logging import print_log
from mmengine.runner.checkpoint import _load_checkpoint
from torch import nn

__all__ = ['load_teacher_checkpoint', 'TeacherCheckpointError']

_DISTILL_PREFIXES = ('architecture.', 'teacher.', 'distiller.')
_SHOW = 8


class TeacherCheckpointError(ValueError):
    """``teacher_ckpt`` does not hold weights of the teacher."""


def _examples(keys: List[str]) -> str:
    shown = ', '.join(keys[:_SHOW])
    return shown + (f', ... ({len(keys) - _SHOW} more)' if len(keys) > _SHOW else '')


def _state_dict(checkpoint) -> dict:
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise TeacherCheckpointError(f'holds a {type(checkpoint).__name__}, not a state dict')
    # mmengine's default revise_keys: weights saved from a DDP wrapper.
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}


def load_teacher_checkpoint(teacher: nn.Module, filename: str, strict: bool = True) -> None:
    """Load ``filename`` into ``teacher``.

    With ``strict`` (the default) any missing, unexpected or differently shaped
    tensor raises :class:`TeacherCheckpointError` listing them; a distillation
    checkpoint is named as such, with the export command. ``num_batches_tracked``
    buffers may be missing (old checkpoints lack them), as in mmengine. With
    ``strict=False`` the matching tensors are loaded and the rest is warned about.
    """
    try:
        state = _state_dict(_load_checkpoint(filename, map_location='cpu'))
    except TeacherCheckpointError as exc:
        raise TeacherCheckpointError(f'teacher_ckpt {filename} {exc}') from None
    own = teacher.state_dict()
    prefixes = sorted({p for p in _DISTILL_PREFIXES for k in state if k.startswith(p)})
    if 'architecture.' in prefixes and not any(k.startswith('architecture.') for k in own):
        raise TeacherCheckpointError(
            f'teacher_ckpt {filename} is a distillation checkpoint (its weights are under '
            f'{", ".join(p + "*" for p in prefixes)}), not a {type(teacher).__name__} '
            'checkpoint. To use its student as a teacher, export it first: python '
            f'tools/model_converters/convert_kd_ckpt_to_student.py {filename} --out-path '
            'teacher.pth, and give teacher_ckpt="teacher.pth".')
    other_shape = {k for k, v in state.items()
                   if k in own and isinstance(v, torch.Tensor) and v.shape != own[k].shape}
    mismatched = [f'{k} (checkpoint {tuple(state[k].shape)}, teacher {tuple(own[k].shape)})'
                  for k in state if k in other_shape]
    loadable = {k: v for k, v in state.items() if k not in other_shape}
    result = teacher.load_state_dict(loadable, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith('num_batches_tracked')]
    unexpected = list(result.unexpected_keys)
    if not (missing or unexpected or mismatched):
        return
    report = '; '.join(
        f'{len(keys)} {what}: {_examples(keys)}'
        for what, keys in (('missing from the checkpoint', missing),
                           ('unexpected in the checkpoint', unexpected),
                           ('with another shape', mismatched)) if keys)
    message = (f'teacher_ckpt {filename} does not fit the teacher ({type(teacher).__name__}, '
               f'{len(own)} tensors): {report}')
    if strict:
        raise TeacherCheckpointError(
            message + '. Is this the teacher\'s checkpoint (not the student\'s, or another '
            'architecture\'s)? To load only the matching tensors on purpose, set '
            'teacher_ckpt_strict=False in the algorithm config.')
    print_log(message + ' (teacher_ckpt_strict=False: loaded the matching tensors only)',
              logger='current', level=logging.WARNING)
