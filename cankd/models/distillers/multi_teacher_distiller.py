from typing import Dict, List, Optional

from cankd.registry import MODELS
from ..recorders import RecorderManager
from .configurable_distiller import _SPEC_KEYS, ConfigurableDistiller, DistillConfigError


@MODELS.register_module()
class MultiTeacherDistiller(ConfigurableDistiller):
    """:class:`ConfigurableDistiller` for several named teachers
    (:class:`~cankd.models.algorithms.MultiTeacherDistill`).

    ``teacher_recorders`` are keyed by teacher name first, and a teacher-side
    mapping entry names the teacher it reads with ``teacher``::

        distiller=dict(
            type='MultiTeacherDistiller',
            student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
            teacher_recorders=dict(
                retina=dict(fpn=dict(type='ModuleOutputs', source='neck')),
                fcos=dict(fpn=dict(type='ModuleOutputs', source='neck'))),
            distill_losses=dict(loss_retina=dict(type='CanKDLoss', in_channels=256),
                                loss_fcos=dict(type='CanKDLoss', in_channels=256)),
            loss_forward_mappings=dict(
                loss_retina=dict(
                    s_feature=dict(from_student=True, recorder='fpn', data_idx=0),
                    t_feature=dict(from_student=False, teacher='retina',
                                   recorder='fpn', data_idx=0)),
                loss_fcos=dict(...)))

    With a single teacher, ``teacher`` may be left out (single-teacher
    mappings stay valid). ``distill_deliveries`` are not supported: which
    teacher's outputs the student would replay is not defined.
    """

    _spec_keys = _SPEC_KEYS + ('teacher',)

    def __init__(self,
                 teacher_recorders: Optional[Dict[str, Dict[str, dict]]] = None,
                 distill_deliveries: Optional[dict] = None,
                 **kwargs) -> None:
        if distill_deliveries:
            raise DistillConfigError(
                'MultiTeacherDistiller: distill_deliveries are not supported with several '
                'teachers (whose outputs would the student replay?); use '
                'SingleTeacherDistill with ConfigurableDistiller for them')
        teacher_recorders = dict(teacher_recorders or {})
        for name, cfgs in teacher_recorders.items():
            if not isinstance(cfgs, dict) or 'type' in cfgs or any(
                    not isinstance(c, dict) for c in cfgs.values()):
                raise DistillConfigError(
                    f'teacher_recorders.{name}: MultiTeacherDistiller keys teacher_recorders '
                    'by teacher name first, e.g. teacher_recorders=dict(retina=dict('
                    "fpn=dict(type='ModuleOutputs', source='neck'))); got "
                    f'{cfgs!r}')
        # Set before the base __init__, which checks the mappings against them
        # (plain attributes: nn.Module allows them before its __init__).
        managers = {name: RecorderManager(cfgs) for name, cfgs in teacher_recorders.items()}
        object.__setattr__(self, 'teacher_recorders_by_name', managers)
        super().__init__(teacher_recorders=None, **kwargs)

    @property
    def teacher_names(self) -> List[str]:
        return sorted(self.teacher_recorders_by_name)

    def _teacher_of(self, key: str, spec: dict) -> str:
        name = spec.get('teacher')
        if name is None:
            if len(self.teacher_recorders_by_name) == 1:
                return next(iter(self.teacher_recorders_by_name))
            raise DistillConfigError(
                f'{key}: from_student=False needs teacher=<name> with several teachers; '
                f'valid: {self.teacher_names}')
        if name not in self.teacher_recorders_by_name:
            raise DistillConfigError(
                f'{key}.teacher: no teacher {name!r} in teacher_recorders; valid: '
                f'{self.teacher_names}')
        return name

    def _recorders_for(self, key: str, spec: dict):
        if spec['from_student']:
            if spec.get('teacher') is not None:
                raise DistillConfigError(f'{key}: teacher={spec["teacher"]!r} with '
                                         'from_student=True; drop one of them')
            return self.student_recorders, 'student_recorders'
        name = self._teacher_of(key, spec)
        return self.teacher_recorders_by_name[name], f'teacher_recorders.{name}'

    def loss_teachers(self) -> Dict[str, List[str]]:
        """For each distill loss, the teachers its mapping reads."""
        return {
            loss: sorted({self._teacher_of(f'loss_forward_mappings.{loss}.{arg}', spec)
                          for arg, spec in mapping.items() if not spec['from_student']})
            for loss, mapping in self.loss_forward_mappings.items()}

    def prepare_from_teacher(self, model) -> None:
        raise TypeError('MultiTeacherDistiller has several teachers: call '
                        'prepare_from_teachers(dict(name=model, ...))')

    def prepare_from_teachers(self, teachers: Dict[str, object]) -> None:
        """Attach each teacher's recorders to it; every teacher with recorders
        must be given."""
        unknown = sorted(set(self.teacher_recorders_by_name) - set(teachers))
        if unknown:
            raise DistillConfigError(
                f'distiller.teacher_recorders: no teacher named {unknown} in teachers; '
                f'valid: {sorted(teachers)}')
        for name, manager in self.teacher_recorders_by_name.items():
            manager.initialize(teachers[name])

    def reset_records(self) -> None:
        for manager in (self.student_recorders, *self.teacher_recorders_by_name.values()):
            for recorder in manager.recorders.values():
                recorder.reset_data_buffer()
