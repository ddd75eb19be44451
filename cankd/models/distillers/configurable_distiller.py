import inspect
import warnings
from typing import Any, Dict, Optional

from mmengine.model import BaseModule
from torch import nn

from cankd.registry import MODELS
from ..deliveries import DistillDeliveryManager
from ..recorders import RecorderManager

_SPEC_KEYS = ('from_student', 'recorder', 'record_idx', 'data_idx', 'connector',
              'connector_idx')
# A loss whose forward takes this argument gets the batch's data samples
# (e.g. FGD needs the ground-truth boxes); it is never a mapping entry.
DATA_SAMPLES_ARG = 'data_samples'


class DistillConfigError(ValueError, AssertionError):
    """A distiller config that does not fit together. Also an
    ``AssertionError``: mmrazor asserts on these, so code written for it
    still catches them."""


def _forward_args(loss: nn.Module):
    """(all argument names, required ones, accepts **kwargs) of loss.forward."""
    params = list(inspect.signature(loss.forward).parameters.values())
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params)
    named = [p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    required = [p.name for p in named if p.default is p.empty]
    return [p.name for p in named], required, var_kw


@MODELS.register_module()
class ConfigurableDistiller(BaseModule):
    """Wires recorders, connectors and distill losses from a config.

    The vocabulary is mmrazor's, so its configs port by changing the scope::

        distiller=dict(
            type='ConfigurableDistiller',
            student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
            teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
            distill_losses=dict(loss_fpn0=dict(type='CanKDLoss', in_channels=256)),
            connectors=dict(),
            loss_forward_mappings=dict(loss_fpn0=dict(
                s_feature=dict(from_student=True, recorder='fpn', data_idx=0),
                t_feature=dict(from_student=False, recorder='fpn', data_idx=0))))

    Each mapping entry takes ``from_student``, ``recorder``, optional
    ``record_idx`` (which call of the module, default 0), ``data_idx`` (item
    of a tuple output, e.g. an FPN level), ``connector`` (a name in
    ``connectors`` applied to the recorded tensor) and ``connector_idx``
    (item of a connector's tuple output, e.g. FBKD's). A ``connectors`` entry
    may be a list of configs, chained as an ``nn.Sequential`` (mmrazor).
    Everything is checked at build time; errors list the valid names.

    ``distill_deliveries`` (mmrazor's, e.g. ``dict(type='MethodOutputs',
    method_path=..., max_keep_data=...)``) build a
    :class:`~cankd.models.deliveries.DistillDeliveryManager`, ``deliveries``:
    the algorithm records their outputs in the teacher's forward and replays
    them in the student's (``set_deliveries_override``).

    ``distill_losses=None`` and ``loss_forward_mappings=None`` mean none, as
    in mmrazor (losses without mappings are then never computed: a
    warning says so). A ``from_student`` that is not a bool is a
    ``TypeError``.
    """

    # Keys of a loss_forward_mappings entry.
    _spec_keys = _SPEC_KEYS

    def __init__(self,
                 student_recorders: Optional[Dict[str, dict]] = None,
                 teacher_recorders: Optional[Dict[str, dict]] = None,
                 distill_losses: Optional[Dict[str, dict]] = None,
                 connectors: Optional[Dict[str, dict]] = None,
                 loss_forward_mappings: Optional[Dict[str, Dict[str, dict]]] = None,
                 distill_deliveries: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.student_recorders = RecorderManager(student_recorders)
        self.teacher_recorders = RecorderManager(teacher_recorders)
        self.deliveries = DistillDeliveryManager(distill_deliveries)
        self.distill_losses = nn.ModuleDict(
            {name: MODELS.build(cfg) for name, cfg in (distill_losses or {}).items()})
        self.connectors = nn.ModuleDict(
            {name: _build_connector(cfg) for name, cfg in (connectors or {}).items()})
        mappings_given = loss_forward_mappings is not None
        if loss_forward_mappings is None:
            loss_forward_mappings = {}
            if self.distill_losses:
                warnings.warn(f'loss_forward_mappings=None: distill losses '
                              f'{sorted(self.distill_losses)} are never computed', stacklevel=2)
        elif not isinstance(loss_forward_mappings, dict):
            raise TypeError('loss_forward_mappings should be a dict instance, but got '
                            f'{type(loss_forward_mappings)}')
        self.loss_forward_mappings = dict(loss_forward_mappings)
        self._check_mappings(check_coverage=mappings_given)
        self._wants_data_samples = {
            name: DATA_SAMPLES_ARG in _forward_args(loss)[0]
            for name, loss in self.distill_losses.items()}

    # --- build-time validation -------------------------------------------
    def _check_mappings(self, check_coverage: bool = True) -> None:
        losses = sorted(self.distill_losses)
        for name in losses:
            if 'loss' not in name:
                # mmengine's parse_losses only sums keys containing 'loss'.
                raise DistillConfigError(f'distill_losses key {name!r} must contain "loss" '
                                         f'(e.g. "loss_{name}"), or it would not be optimised')
            if check_coverage and name not in self.loss_forward_mappings:
                raise DistillConfigError(f'distill loss {name!r} has no entry in '
                                         f'loss_forward_mappings (entries: '
                                         f'{sorted(self.loss_forward_mappings)})')
        for name, mapping in self.loss_forward_mappings.items():
            key = f'loss_forward_mappings.{name}'
            if name not in self.distill_losses:
                raise DistillConfigError(f'{key}: no distill loss named {name!r}; '
                                         f'valid: {losses}')
            if not isinstance(mapping, dict):
                raise TypeError(f'{key}: Each item of loss_forward_mappings should be a '
                                f'dict instance, but got {type(mapping)}')
            args, required, var_kw = _forward_args(self.distill_losses[name])
            for arg, spec in mapping.items():
                if arg not in args and not var_kw:
                    valid = [a for a in args if a != DATA_SAMPLES_ARG]
                    raise DistillConfigError(
                        f'{key}.{arg}: {type(self.distill_losses[name]).__name__}.forward '
                        f'has no argument {arg!r}; valid: {valid}')
                self._check_spec(f'{key}.{arg}', spec)
            missing = [a for a in required if a not in mapping and a != DATA_SAMPLES_ARG]
            if missing:
                raise DistillConfigError(f'{key}: no mapping for required forward argument(s) '
                                         f'{missing} of {type(self.distill_losses[name]).__name__}')

    def _check_spec(self, key: str, spec: dict) -> None:
        if not isinstance(spec, dict):
            raise TypeError(f'{key} must be a dict with keys {_SPEC_KEYS}, got {spec!r}')
        unknown = set(spec) - set(self._spec_keys)
        if unknown:
            raise DistillConfigError(
                f'{key}: unknown key(s) {sorted(unknown)}; valid: {self._spec_keys}')
        for required in ('from_student', 'recorder'):
            if required not in spec:
                raise DistillConfigError(f'{key}: missing {required!r}')
        if not isinstance(spec['from_student'], bool):
            raise TypeError(f'{key}.from_student should be a bool instance, but got '
                            f'{type(spec["from_student"])}')
        manager, side = self._recorders_for(key, spec)
        if spec['recorder'] not in manager.recorders:
            raise DistillConfigError(f'{key}.recorder: no recorder {spec["recorder"]!r} in {side}; '
                                     f'valid: {sorted(manager.recorders)}')
        connector = spec.get('connector')
        if connector is not None and connector not in self.connectors:
            raise DistillConfigError(f'{key}.connector: no connector {connector!r}; '
                                     f'valid: {sorted(self.connectors)}')

    # --- wiring -----------------------------------------------------------
    def set_deliveries_override(self, override: bool) -> None:
        """False: deliveries record (teacher); True: they replay (student)."""
        self.deliveries.override_data = override

    def prepare_from_student(self, model: nn.Module) -> None:
        self.student_recorders.initialize(model)

    def prepare_from_teacher(self, model: nn.Module) -> None:
        self.teacher_recorders.initialize(model)

    def _recorders_for(self, key: str, spec: dict):
        """The recorder manager a mapping entry reads, and its config key
        (MultiTeacherDistiller picks the teacher's)."""
        if spec['from_student']:
            return self.student_recorders, 'student_recorders'
        return self.teacher_recorders, 'teacher_recorders'

    def get_record(self, key: str, spec: dict) -> Any:
        manager, _ = self._recorders_for(key, spec)
        recorder = manager.get_recorder(spec['recorder'])
        try:
            data = recorder.get_record_data(spec.get('record_idx', 0), spec.get('data_idx'))
        except (IndexError, TypeError, RuntimeError) as exc:
            raise ValueError(f'{key}: {exc}') from None
        connector = spec.get('connector')
        if connector is not None:
            try:
                data = self.connectors[connector](data)
            except ValueError as exc:
                raise ValueError(f'{key}: connector {connector!r} on recorder '
                                 f'{spec["recorder"]!r}: {exc}') from None
        if spec.get('connector_idx') is not None:
            data = data[spec['connector_idx']]
        return data

    def compute_distill_losses(self, data_samples: Optional[list] = None) -> Dict[str, Any]:
        """Run every distill loss on its recorded inputs; keys are the loss names."""
        losses = {}
        for name, mapping in self.loss_forward_mappings.items():
            loss_module = self.distill_losses[name]
            kwargs = {arg: self.get_record(f'loss_forward_mappings.{name}.{arg}', spec)
                      for arg, spec in mapping.items()}
            if self._wants_data_samples[name]:
                kwargs[DATA_SAMPLES_ARG] = data_samples
            try:
                losses[name] = loss_module(**kwargs)
            except ValueError as exc:
                raise ValueError(f'distill loss {name!r} '
                                 f'({type(loss_module).__name__}): {exc}') from None
        return losses

    def reset_records(self) -> None:
        """Drop recorded features so they are not held between iterations."""
        for manager in (self.student_recorders, self.teacher_recorders):
            for recorder in manager.recorders.values():
                recorder.reset_data_buffer()


def _build_connector(cfg) -> nn.Module:
    """A connector config, or a list of them chained (mmrazor)."""
    if isinstance(cfg, (list, tuple)):
        return nn.Sequential(*[MODELS.build(c) for c in cfg])
    return MODELS.build(cfg)
