import contextlib
import os.path as osp
from typing import Dict, List, Optional, Union

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from mmengine.utils import is_str
from torch import nn

from cankd.registry import MODELS
from .build import build_submodel, check_cfg_path
from .teacher_checkpoint import load_teacher_checkpoint

_URL_PREFIXES = ('http://', 'https://', 'torchvision://', 'open-mmlab://', 'openmmlab://',
                 'mmcls://', 'modelzoo://')


class _NoDeliveries(contextlib.nullcontext):
    def __len__(self) -> int:
        return 0


_NO_DELIVERIES = _NoDeliveries()


def _add_prefix(losses: dict, prefix: str) -> dict:
    return {f'{prefix}.{k}': v for k, v in losses.items()}


def _forward_by_mode(algorithm: nn.Module, inputs: torch.Tensor,
                     data_samples: Optional[List[BaseDataElement]], mode: str):
    """The distillation algorithms' ``forward``: 'loss' runs ``algorithm.loss``
    (student and teachers); 'predict' and 'tensor' run the student alone."""
    if mode == 'loss':
        return algorithm.loss(inputs, data_samples)
    if mode in ('predict', 'tensor'):
        return algorithm.architecture(inputs, data_samples, mode=mode)
    raise ValueError(f'mode must be "loss", "predict" or "tensor", got {mode!r}')


def _normalisation(preprocessor) -> Optional[dict]:
    """Normalisation settings of an mmdet/mmseg image data preprocessor."""
    if not hasattr(preprocessor, '_enable_normalize'):
        return None
    # mmengine/mmdet name it _channel_conversion, mmseg channel_conversion.
    conversion = getattr(preprocessor, '_channel_conversion',
                         getattr(preprocessor, 'channel_conversion', False))
    return dict(normalize=preprocessor._enable_normalize, bgr_to_rgb=conversion,
                mean=getattr(preprocessor, 'mean', None), std=getattr(preprocessor, 'std', None))


def _check_model_arg(value, name: str) -> None:
    """mmrazor's check: a submodel is a config dict or a built model."""
    if not isinstance(value, (dict, nn.Module)):
        raise TypeError(f'{name} should be a `dict` or `nn.Module` (BaseModel) instance, '
                        f'but got {type(value)}: give the model config, or '
                        f'dict(cfg_path=...) for a config file')
    cfg_path = value.get('cfg_path') if isinstance(value, dict) else None
    if isinstance(cfg_path, str):
        try:
            check_cfg_path(cfg_path)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f'{name}.cfg_path: {exc}') from None


def _same_normalisation(a: dict, b: dict) -> bool:
    if a['normalize'] != b['normalize'] or a['bgr_to_rgb'] != b['bgr_to_rgb']:
        return False
    return not a['normalize'] or (torch.equal(a['mean'], b['mean'])
                                  and torch.equal(a['std'], b['std']))


def renormalise_for(inputs: torch.Tensor, student_preprocessor, teacher: nn.Module) -> torch.Tensor:
    """``inputs``, normalised by ``student_preprocessor``, as ``teacher``'s own
    data preprocessor would have normalised them (unchanged when they agree)."""
    student = _normalisation(student_preprocessor)
    teacher = _normalisation(getattr(teacher, 'data_preprocessor', None))
    if student is None or teacher is None or _same_normalisation(student, teacher):
        return inputs
    raw = inputs * student['std'] + student['mean'] if student['normalize'] else inputs
    if student['bgr_to_rgb'] != teacher['bgr_to_rgb']:
        raw = raw.flip(1)
    return (raw - teacher['mean']) / teacher['std'] if teacher['normalize'] else raw


@MODELS.register_module()
class SingleTeacherDistill(BaseModel):
    """One frozen teacher, one trained student (mmrazor's config vocabulary).

    A training step runs the teacher (eval mode, no grad, recorders on), then
    the student's own loss (recorders on), then the distill losses on what was
    recorded; the losses come back as ``student.*`` and ``distill.*``, the
    keys mmrazor logs. Predict/tensor modes run the student only, so
    validation and testing evaluate the student.

    Args:
        architecture: the student, inline or ``dict(cfg_path=..., pretrained=...)``.
        teacher: the teacher, same forms.
        distiller: a distiller config, e.g. ``ConfigurableDistiller``.
        teacher_ckpt: local path or URL loaded into the teacher at build time;
            a missing local file, or weights that do not fit the teacher
            (missing, unexpected or differently shaped tensors; a student's or
            a distillation checkpoint), is an error before training starts.
        teacher_ckpt_strict: set False to load only the tensors of
            ``teacher_ckpt`` that fit, with a warning listing the others.
        teacher_trainable: must stay False (mmrazor's key, kept for porting):
            the teacher is frozen, in eval mode, under no_grad.
        teacher_norm_eval: mmrazor's key; a frozen teacher is always in eval
            mode, so its norm layers are too.
        student_trainable: whether the student's parameters get gradients.
        calculate_student_loss: add the student's task losses (``student.*``).
        data_preprocessor: defaults to the student's.
    """

    def __init__(self,
                 architecture: Union[dict, nn.Module],
                 teacher: Union[dict, nn.Module],
                 distiller: dict,
                 teacher_ckpt: Optional[str] = None,
                 teacher_ckpt_strict: bool = True,
                 teacher_trainable: bool = False,
                 teacher_norm_eval: bool = True,
                 student_trainable: bool = True,
                 calculate_student_loss: bool = True,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if teacher_ckpt and is_str(teacher_ckpt) and not teacher_ckpt.startswith(
                _URL_PREFIXES) and not osp.isfile(osp.expanduser(teacher_ckpt)):
            # Fail before building anything heavy, naming the config key.
            raise FileNotFoundError(f'teacher_ckpt not found: {teacher_ckpt}')
        if teacher_trainable:
            raise ValueError('teacher_trainable=True is not supported: the distill losses '
                             'detach the teacher and the teacher has no task loss here, so '
                             'nothing would train it; keep the teacher frozen')
        _check_model_arg(architecture, 'architecture')
        _check_model_arg(teacher, 'teacher')
        student = build_submodel(architecture)
        if data_preprocessor is None:
            data_preprocessor = getattr(student, 'data_preprocessor', None)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.architecture = student
        self.teacher = build_submodel(teacher)
        if teacher_ckpt:
            load_teacher_checkpoint(self.teacher, teacher_ckpt, strict=teacher_ckpt_strict)
            # Keep the Runner's init_weights() from overwriting the loaded weights.
            self.teacher._is_init = True
        self.teacher.requires_grad_(False)
        self.teacher.eval()
        if not student_trainable:
            self.architecture.requires_grad_(False)
        self.calculate_student_loss = calculate_student_loss

        self.distiller = MODELS.build(distiller)
        self.distiller.prepare_from_student(self.student)
        self.distiller.prepare_from_teacher(self.teacher)

    @property
    def student(self) -> nn.Module:
        return self.architecture

    # --- forward ------------------------------------------------------------
    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor'):
        return _forward_by_mode(self, inputs, data_samples, mode)

    def teacher_forward(self, inputs: torch.Tensor, data_samples) -> None:
        """The teacher's whole forward (backbone, neck, heads), no task loss;
        with ``distill_deliveries``, ``mode='loss'`` as in mmrazor, so what
        the student's loss path calls (e.g. a sampler) was recorded."""
        mode = 'loss' if len(getattr(self.distiller, 'deliveries', ())) else 'tensor'
        self.teacher(inputs, data_samples, mode=mode)

    def teacher_inputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """``inputs`` (normalised by the student's data preprocessor) as the
        teacher's own preprocessor would normalise them: a caffe-style teacher
        (BGR, std 1) next to a pytorch-style student must not see the student's
        normalisation."""
        return renormalise_for(inputs, self.data_preprocessor, self.teacher)

    def loss(self, inputs: torch.Tensor, data_samples) -> Dict[str, torch.Tensor]:
        losses = {}
        deliveries = getattr(self.distiller, 'deliveries', None) or _NO_DELIVERIES
        if hasattr(self.distiller, 'set_deliveries_override'):
            self.distiller.set_deliveries_override(False)  # teacher: record
        with self.distiller.teacher_recorders, deliveries:
            with torch.no_grad():
                self.teacher_forward(self.teacher_inputs(inputs), data_samples)
        if hasattr(self.distiller, 'set_deliveries_override'):
            self.distiller.set_deliveries_override(True)  # student: replay
        with self.distiller.student_recorders, deliveries:
            if self.calculate_student_loss:
                student_losses = self.architecture(inputs, data_samples, mode='loss')
                losses.update(_add_prefix(student_losses, 'student'))
            else:
                # With deliveries, the loss path the teacher ran (mmrazor).
                self.architecture(inputs, data_samples,
                                  mode='loss' if len(deliveries) else 'tensor')
        losses.update(_add_prefix(self.distiller.compute_distill_losses(data_samples), 'distill'))
        self.distiller.reset_records()
        return losses

    def train(self, mode: bool = True) -> 'SingleTeacherDistill':
        super().train(mode)
        self.teacher.eval()  # frozen: BN statistics never update
        return self
