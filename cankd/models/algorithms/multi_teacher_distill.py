import os.path as osp
from typing import Dict, List, Optional, Union

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from mmengine.utils import is_str
from torch import nn

from cankd.registry import MODELS
from ..distillers.configurable_distiller import DistillConfigError
from .build import build_submodel
from .single_teacher_distill import (_URL_PREFIXES, _add_prefix, _check_model_arg,
                                     _forward_by_mode, renormalise_for)
from .teacher_checkpoint import load_teacher_checkpoint

# Keys of one entry of ``teachers``.
TEACHER_KEYS = ('model', 'ckpt', 'ckpt_strict', 'fpn_only', 'loss_weight')


def _scale(loss, weight: float):
    """``loss`` (a tensor, or a list/dict of them) times ``weight``."""
    if isinstance(loss, dict):
        return {k: _scale(v, weight) for k, v in loss.items()}
    if isinstance(loss, (list, tuple)):
        return type(loss)(_scale(v, weight) for v in loss)
    return loss * weight


def _check_teacher_entry(name: str, entry) -> dict:
    key = f'teachers.{name}'
    if not isinstance(entry, dict):
        raise TypeError(f'{key} should be a dict with keys {TEACHER_KEYS}, got '
                        f'{type(entry).__name__}')
    unknown = sorted(set(entry) - set(TEACHER_KEYS))
    if unknown:
        raise DistillConfigError(
            f'{key}: unknown key(s) {unknown}; valid: {TEACHER_KEYS} (the model config goes '
            f'under "model": {key}=dict(model=dict(cfg_path=...), ckpt=...))')
    if 'model' not in entry:
        raise DistillConfigError(f'{key}: missing "model" (inline config, '
                                 'dict(cfg_path=...), or a built model)')
    _check_model_arg(entry['model'], f'{key}.model')
    ckpt = entry.get('ckpt')
    if ckpt and is_str(ckpt) and not ckpt.startswith(_URL_PREFIXES) and \
            not osp.isfile(osp.expanduser(ckpt)):
        raise FileNotFoundError(f'{key}.ckpt not found: {ckpt}')
    weight = entry.get('loss_weight', 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
        raise DistillConfigError(f'{key}.loss_weight must be a number >= 0, got {weight!r}')
    return entry


@MODELS.register_module()
class MultiTeacherDistill(BaseModel):
    """Several named frozen teachers, one trained student.

    Each teacher is run once per training step (eval mode, no grad, its
    recorders on) on the same batch the student gets, renormalised for the
    teacher's own data preprocessor; then the student's loss, then the
    distill losses, each scaled by the ``loss_weight`` of the teacher its
    mapping reads. Predict/tensor modes run the student only, so validation,
    testing and export (``architecture.*`` weights) are as with one teacher.

    Args:
        architecture: the student, inline or ``dict(cfg_path=..., pretrained=...)``.
        teachers: ``dict(name=dict(model=..., ckpt=None, ckpt_strict=True,
            fpn_only=False, loss_weight=1.0))``; ``model`` takes the forms of
            ``SingleTeacherDistill``'s ``teacher``, ``ckpt`` / ``ckpt_strict``
            act as its ``teacher_ckpt`` / ``teacher_ckpt_strict``,
            ``fpn_only=True`` runs only the teacher's ``extract_feat`` (as
            :class:`FpnTeacherDistill`), and ``loss_weight`` multiplies every
            distill loss reading that teacher.
        distiller: a ``MultiTeacherDistiller`` config: ``teacher_recorders``
            keyed by teacher name, mapping entries naming ``teacher=``.
        student_trainable: whether the student's parameters get gradients.
        calculate_student_loss: add the student's task losses (``student.*``).
        data_preprocessor: defaults to the student's.
    """

    def __init__(self,
                 architecture: Union[dict, nn.Module],
                 teachers: Dict[str, dict],
                 distiller: dict,
                 student_trainable: bool = True,
                 calculate_student_loss: bool = True,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if not isinstance(teachers, dict) or not teachers:
            raise DistillConfigError('teachers: give at least one teacher, '
                                     'teachers=dict(name=dict(model=..., ckpt=...))')
        entries = {name: _check_teacher_entry(name, entry) for name, entry in teachers.items()}
        _check_model_arg(architecture, 'architecture')
        distiller_type = distiller.get('type') if isinstance(distiller, dict) else None
        if distiller_type not in ('MultiTeacherDistiller', 'cankd.MultiTeacherDistiller'):
            raise DistillConfigError(
                f'MultiTeacherDistill needs distiller type "MultiTeacherDistiller" (teacher '
                f'recorders keyed by teacher name), got {distiller_type!r}')
        student = build_submodel(architecture)
        if data_preprocessor is None:
            data_preprocessor = getattr(student, 'data_preprocessor', None)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.architecture = student
        self.teachers = nn.ModuleDict()
        for name, entry in entries.items():
            teacher = build_submodel(entry['model'])
            if entry.get('ckpt'):
                load_teacher_checkpoint(teacher, entry['ckpt'],
                                        strict=entry.get('ckpt_strict', True))
                teacher._is_init = True  # init_weights() must not overwrite it
            if entry.get('fpn_only') and not hasattr(teacher, 'extract_feat'):
                raise DistillConfigError(f'teachers.{name}.fpn_only: '
                                         f'{type(teacher).__name__} has no extract_feat')
            teacher.requires_grad_(False)
            teacher.eval()
            self.teachers[name] = teacher
        self.fpn_only = {name: bool(e.get('fpn_only', False)) for name, e in entries.items()}
        self.teacher_loss_weights = {name: float(e.get('loss_weight', 1.0))
                                     for name, e in entries.items()}
        if not student_trainable:
            self.architecture.requires_grad_(False)
        self.calculate_student_loss = calculate_student_loss

        self.distiller = MODELS.build(distiller)
        self.distiller.prepare_from_student(self.student)
        self.distiller.prepare_from_teachers(dict(self.teachers.items()))
        self._loss_weights = self._check_loss_teachers()

    def _check_loss_teachers(self) -> Dict[str, float]:
        """Each distill loss's weight from the teacher(s) it reads; every
        teacher must be read by some loss (else it would run for nothing)."""
        read = self.distiller.loss_teachers()
        used = {t for names in read.values() for t in names}
        unused = sorted(set(self.teachers) - used)
        if unused:
            raise DistillConfigError(
                f'teachers {unused}: no distill loss reads them (loss_forward_mappings '
                f'entries with teacher=...); remove them or map a loss to them. Teachers '
                f'read: {sorted(used)}')
        weights = {}
        for loss, names in read.items():
            values = {self.teacher_loss_weights[t] for t in names}
            if len(values) > 1:
                raise DistillConfigError(
                    f'loss_forward_mappings.{loss} reads teachers {names} with different '
                    f'loss_weight {[self.teacher_loss_weights[t] for t in names]}; give them '
                    'the same weight or set the weight in the loss itself')
            weights[loss] = values.pop() if values else 1.0
        return weights

    @property
    def student(self) -> nn.Module:
        return self.architecture

    @property
    def teacher_names(self) -> List[str]:
        return list(self.teachers)

    # --- forward ------------------------------------------------------------
    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor'):
        return _forward_by_mode(self, inputs, data_samples, mode)

    def teacher_inputs(self, name: str, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs`` as teacher ``name``'s own preprocessor would normalise them."""
        return renormalise_for(inputs, self.data_preprocessor, self.teachers[name])

    def teacher_forward(self, name: str, inputs: torch.Tensor, data_samples) -> None:
        teacher = self.teachers[name]
        if self.fpn_only[name]:
            teacher.extract_feat(inputs)
        else:
            teacher(inputs, data_samples, mode='tensor')

    def loss(self, inputs: torch.Tensor, data_samples) -> Dict[str, torch.Tensor]:
        losses = {}
        for name in self.teachers:
            recorders = self.distiller.teacher_recorders_by_name.get(name)
            if recorders is None:
                continue
            with recorders, torch.no_grad():
                self.teacher_forward(name, self.teacher_inputs(name, inputs), data_samples)
        with self.distiller.student_recorders:
            if self.calculate_student_loss:
                student_losses = self.architecture(inputs, data_samples, mode='loss')
                losses.update(_add_prefix(student_losses, 'student'))
            else:
                self.architecture(inputs, data_samples, mode='tensor')
        distill = self.distiller.compute_distill_losses(data_samples)
        distill = {k: v if self._loss_weights.get(k, 1.0) == 1.0
                   else _scale(v, self._loss_weights[k]) for k, v in distill.items()}
        losses.update(_add_prefix(distill, 'distill'))
        self.distiller.reset_records()
        return losses

    def train(self, mode: bool = True) -> 'MultiTeacherDistill':
        super().train(mode)
        for teacher in self.teachers.values():
            teacher.eval()  # frozen: BN statistics never update
        return self
