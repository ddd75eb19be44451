"""CrossKD: the student's intermediate head features through the teacher's
remaining head layers (Wang et al., CVPR 2024, arXiv 2306.11369)."""
from contextlib import ExitStack
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from cankd.registry import MODELS
from ..recorders import ModuleOutputs
from .single_teacher_distill import _NO_DELIVERIES, SingleTeacherDistill, _add_prefix

# What the distiller's recorders name to get the head outputs:
# MethodOutputs on these record (cls_scores, bbox_preds, boxes, centernesses).
CROSS_HEAD_FORWARD = 'cankd.models.algorithms.crosskd_distill.CrossKDDistill.cross_head_forward'
TEACHER_HEAD_FORWARD = \
    'cankd.models.algorithms.crosskd_distill.CrossKDDistill.teacher_head_forward'


class _Feed(nn.Module):
    """Stands in for the first head convs: ignores its input and returns the
    next of ``feats`` (one per FPN level, in the order the head runs them)."""

    def __init__(self, feats: Sequence[torch.Tensor]) -> None:
        super().__init__()
        self.feats = list(feats)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.feats[self.calls]
        self.calls += 1
        return feat


def align_scale(s_feat: torch.Tensor, t_feat: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """The student's map standardised per channel over (N, H, W) (unbiased
    std + eps), then given the teacher's per-channel mean and std (CrossKD's
    ``align_scale``)."""
    if s_feat.shape != t_feat.shape:
        raise ValueError(f'CrossKD: student head feature {tuple(s_feat.shape)} and teacher '
                         f'{tuple(t_feat.shape)} differ; the cross-head path needs the same '
                         'head width (feat_channels) and FPN levels on both sides')
    N, C, H, W = s_feat.shape
    s = s_feat.transpose(0, 1).reshape(C, -1)
    t = t_feat.detach().transpose(0, 1).reshape(C, -1)
    s = (s - s.mean(dim=1, keepdim=True)) / (s.std(dim=1, keepdim=True) + eps)
    s = s * t.std(dim=1, keepdim=True) + t.mean(dim=1, keepdim=True)
    return s.reshape(C, N, H, W).transpose(0, 1)


def decode_head_boxes(head: nn.Module, cls_scores: List[torch.Tensor],
                      bbox_preds: List[torch.Tensor]) -> List[torch.Tensor]:
    """Boxes (x1, y1, x2, y2, pixels) of each prior, one N x M_l x 4 tensor per
    level (M_l = H_l * W_l * anchors, the order of the head's targets):

    * GFL (``head.integral``): the expected distance of each side's
      distribution, times the stride, from the anchor centre;
    * point heads (FCOS: ``MlvlPointGenerator``): ``bbox_coder.decode`` from
      the points (an eval-mode FCOS head already scaled by the stride);
    * anchor heads (RetinaNet, ATSS): ``bbox_coder.decode`` of the deltas.
    """
    from mmdet.models.task_modules.prior_generators import MlvlPointGenerator
    sizes = [c.shape[-2:] for c in cls_scores]
    device = cls_scores[0].device
    priors = head.prior_generator.grid_priors(sizes, dtype=bbox_preds[0].dtype, device=device)
    strides = head.prior_generator.strides
    boxes = []
    for prior, pred, stride in zip(priors, bbox_preds, strides):
        n = pred.shape[0]
        if hasattr(head, 'integral'):
            dist = head.integral(pred.permute(0, 2, 3, 1).reshape(-1, 4 * (head.reg_max + 1)))
            box = head.bbox_coder.decode(head.anchor_center(prior).repeat(n, 1),
                                         dist * stride[0])
        elif isinstance(head.prior_generator, MlvlPointGenerator):
            box = head.bbox_coder.decode(prior[:, :2].repeat(n, 1),
                                         pred.permute(0, 2, 3, 1).reshape(-1, 4))
        else:
            size = head.bbox_coder.encode_size
            box = head.bbox_coder.decode(prior.repeat(n, 1),
                                         pred.permute(0, 2, 3, 1).reshape(-1, size))
        boxes.append(box.reshape(n, -1, 4))
    return boxes


def _head_outputs(head: nn.Module, outs: tuple) -> tuple:
    """(cls_scores, bbox_preds, boxes, centernesses or None) of a head's forward."""
    cls_scores, bbox_preds = list(outs[0]), list(outs[1])
    centernesses = list(outs[2]) if len(outs) > 2 else None
    return cls_scores, bbox_preds, decode_head_boxes(head, cls_scores, bbox_preds), centernesses


@MODELS.register_module()
class CrossKDDistill(SingleTeacherDistill):
    """CrossKD: the student's head features run through the teacher's
    remaining head layers; KD losses on those cross-head predictions.

    `Cross-Head Knowledge Distillation for Dense Object Detection
    <https://arxiv.org/abs/2306.11369>`_ (CVPR 2024), on one-stage dense
    heads with ``cls_convs``/``reg_convs`` towers (GFL, RetinaNet, FCOS,
    ATSS); student and teacher heads of the same structure.

    A training step: the teacher (eval, no grad) runs backbone, neck and head
    (:meth:`teacher_head_forward`); the student runs its own loss; then the
    student's head features after its ``reused_teacher_head_idx``-th conv of
    each tower (the FPN level for 0) are standardised per channel, given the
    teacher's statistics at the same place, passed through ReLU (index > 0)
    and run through the rest of the *teacher's* head (:meth:`cross_head_forward`).
    Gradients reach the student through that path; the teacher's parameters
    stay frozen. The distill losses compare the cross-head predictions with
    the teacher's: the distiller records both with ``MethodOutputs`` on
    :data:`CROSS_HEAD_FORWARD` (student side) and :data:`TEACHER_HEAD_FORWARD`
    (teacher side); each records ``(cls_scores, bbox_preds, boxes,
    centernesses)``: per-level lists, ``boxes`` decoded to N x M x 4 pixels.
    Other recorders (FPN features for CanKD/PKD, the student's ``get_targets``)
    work as in :class:`SingleTeacherDistill`; all losses log as ``distill.*``.

    The features taken are the outputs of the towers' ``ConvModule`` s, i.e.
    after their activation: the official code holds the pre-activation map,
    but mmcv's in-place ReLU then overwrites it, so it too uses the activated
    map (see docs/methods.md).

    Args:
        reused_teacher_head_idx: the number of student head convs per tower
            before the teacher's head takes over (0: from the FPN outputs).
        head: the head's attribute name in both detectors.
        **kwargs: as :class:`SingleTeacherDistill`.
    """

    def __init__(self, *args, reused_teacher_head_idx: int = 3, head: str = 'bbox_head',
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.head_name = head
        s_head, t_head = self._heads()
        for side, h in (('student', s_head), ('teacher', t_head)):
            for tower in ('cls_convs', 'reg_convs'):
                if not isinstance(getattr(h, tower, None), nn.ModuleList):
                    raise ValueError(f'CrossKDDistill: the {side} head {type(h).__name__} has '
                                     f'no {tower} ModuleList; CrossKD needs a dense head with '
                                     'cls_convs/reg_convs towers (GFL, RetinaNet, FCOS, ATSS)')
        depth = min(len(s_head.cls_convs), len(t_head.cls_convs))
        if not 0 <= reused_teacher_head_idx <= depth:
            raise ValueError(f'reused_teacher_head_idx must be in 0..{depth} (the heads have '
                             f'{depth} convs per tower), got {reused_teacher_head_idx}')
        self.reused_teacher_head_idx = reused_teacher_head_idx
        idx = reused_teacher_head_idx
        sources = ([f'{head}.cls_convs.{idx - 1}', f'{head}.reg_convs.{idx - 1}'] if idx
                   else ['neck'])
        self._hold_sources = sources
        # Private recorders of the features the cross path starts from.
        self._s_holds = [ModuleOutputs(s) for s in sources]
        self._t_holds = [ModuleOutputs(s) for s in sources]
        for r in self._s_holds:
            r.initialize(self.student)
        for r in self._t_holds:
            r.initialize(self.teacher)

    def _heads(self) -> Tuple[nn.Module, nn.Module]:
        return getattr(self.student, self.head_name), getattr(self.teacher, self.head_name)

    # --- the two head paths --------------------------------------------------
    def teacher_head_forward(self, feats: Sequence[torch.Tensor]) -> tuple:
        """The teacher head on the teacher's FPN features: (cls_scores,
        bbox_preds, boxes, centernesses)."""
        head = self._heads()[1]
        return _head_outputs(head, head(tuple(feats)))

    def _held(self, recorders: List[ModuleOutputs]) -> List[List[torch.Tensor]]:
        """Per tower (cls, reg), the recorded map of each FPN level."""
        if self.reused_teacher_head_idx == 0:
            levels = list(recorders[0].get_record_data(0))
            return [levels, levels]
        towers = []
        for r in recorders:
            if not r.data_buffer:
                raise RuntimeError(f'CrossKDDistill: {r.source!r} did not run; the head '
                                   'must run its towers in the forward')
            towers.append(list(r.data_buffer))
        return towers

    def crossed_features(self) -> List[List[torch.Tensor]]:
        """(cls, reg) lists, per FPN level, of what the cross path feeds the
        teacher's remaining head layers: the student's held maps aligned to
        the teacher's statistics, then ReLU (index > 0)."""
        idx = self.reused_teacher_head_idx
        s_towers, t_towers = self._held(self._s_holds), self._held(self._t_holds)
        if len(s_towers[0]) != len(t_towers[0]):
            raise ValueError(f'CrossKD: the student head ran on {len(s_towers[0])} levels, '
                             f'the teacher on {len(t_towers[0])}')
        crossed = []
        for s_levels, t_levels in zip(s_towers, t_towers):
            levels = [align_scale(s, t) for s, t in zip(s_levels, t_levels)]
            crossed.append([F.relu(x) for x in levels] if idx else levels)
        return crossed

    def cross_head_forward(self) -> tuple:
        """The student's held head features through the teacher's remaining
        head layers: (cls_scores, bbox_preds, boxes, centernesses) as the
        teacher's head returns them; differentiable w.r.t. the student."""
        idx = self.reused_teacher_head_idx
        crossed = self.crossed_features()
        t_levels = self._held(self._t_holds)[0]
        head = self._heads()[1]
        if idx == 0:
            return _head_outputs(head, head(tuple(crossed[0])))
        cls_convs, reg_convs = head.cls_convs, head.reg_convs
        try:
            # The head's own forward, its first idx convs of each tower
            # replaced by the crossed features (Module.__setattr__ keeps the
            # registration; restored below).
            head.cls_convs = nn.ModuleList([_Feed(crossed[0]), *list(cls_convs)[idx:]])
            head.reg_convs = nn.ModuleList([_Feed(crossed[1]), *list(reg_convs)[idx:]])
            outs = head(tuple(t_levels))
        finally:
            head.cls_convs, head.reg_convs = cls_convs, reg_convs
        return _head_outputs(head, outs)

    # --- training step ----------------------------------------------------------
    @staticmethod
    def _record_holds(recorders: List[ModuleOutputs]) -> ExitStack:
        stack = ExitStack()
        for r in recorders:
            stack.enter_context(r)
        return stack

    def loss(self, inputs: torch.Tensor, data_samples) -> Dict[str, torch.Tensor]:
        losses = {}
        deliveries = getattr(self.distiller, 'deliveries', None) or _NO_DELIVERIES
        if hasattr(self.distiller, 'set_deliveries_override'):
            self.distiller.set_deliveries_override(False)
        try:
            with self.distiller.teacher_recorders, deliveries, \
                    self._record_holds(self._t_holds):
                with torch.no_grad():
                    feats = self.teacher.extract_feat(self.teacher_inputs(inputs))
                    self.teacher_head_forward(feats)
            if hasattr(self.distiller, 'set_deliveries_override'):
                self.distiller.set_deliveries_override(True)
            with self.distiller.student_recorders, deliveries, \
                    self._record_holds(self._s_holds):
                if self.calculate_student_loss:
                    student_losses = self.architecture(inputs, data_samples, mode='loss')
                    losses.update(_add_prefix(student_losses, 'student'))
                else:
                    self.architecture(inputs, data_samples, mode='tensor')
                self.cross_head_forward()
            losses.update(_add_prefix(
                self.distiller.compute_distill_losses(data_samples), 'distill'))
        finally:
            self.distiller.reset_records()
            for r in self._s_holds + self._t_holds:
                r.reset_data_buffer()
        return losses
