import inspect
from typing import Any, Dict, Optional

from mmengine.model import BaseModule
from torch import nn

from cankd.registry import MODELS
from ..recorders import RecorderManager

_SPEC_KEYS = ('from_student', 'recorder', 'record_idx', 'data_idx', 'connector')
# A loss whose forward takes this argument gets the batch's data samples
# (e.g. FGD needs the ground-truth boxes); it is never a mapping entry.
DATA_SAMPLES_ARG = 'data_samples'


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
    of a tuple output, e.g. an FPN level) and ``connector`` (a name in
    ``connectors`` applied to the recorded tensor). Everything is checked at
    build time; errors list the valid names.
    """

    def __init__(self,
                 student_recorders: Optional[Dict[str, dict]] = None,
                 teacher_recorders: Optional[Dict[str, dict]] = None,
                 distill_losses: Optional[Dict[str, dict]] = None,
                 connectors: Optional[Dict[str, dict]] = None,
                 loss_forward_mappings: Optional[Dict[str, Dict[str, dict]]] = None,
                 distill_deliveries: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if distill_deliveries:
            raise ValueError('distill_deliveries (mmrazor) is not supported by cankd; '
                             'drop it from the distiller config')
        self.student_recorders = RecorderManager(student_recorders)
        self.teacher_recorders = RecorderManager(teacher_recorders)
        self.distill_losses = nn.ModuleDict(
            {name: MODELS.build(cfg) for name, cfg in (distill_losses or {}).items()})
        self.connectors = nn.ModuleDict(
            {name: MODELS.build(cfg) for name, cfg in (connectors or {}).items()})
        self.loss_forward_mappings = dict(loss_forward_mappings or {})
        self._check_mappings()
        self._wants_data_samples = {
            name: DATA_SAMPLES_ARG in _forward_args(loss)[0]
            for name, loss in self.distill_losses.items()}

    # --- build-time validation -------------------------------------------
    def _check_mappings(self) -> None:
        losses = sorted(self.distill_losses)
        for name in losses:
            if 'loss' not in name:
                # mmengine's parse_losses only sums keys containing 'loss'.
                raise ValueError(f'distill_losses key {name!r} must contain "loss" '
                                 f'(e.g. "loss_{name}"), or it would not be optimised')
            if name not in self.loss_forward_mappings:
                raise ValueError(f'distill loss {name!r} has no entry in '
                                 f'loss_forward_mappings (entries: '
                                 f'{sorted(self.loss_forward_mappings)})')
        for name, mapping in self.loss_forward_mappings.items():
            key = f'loss_forward_mappings.{name}'
            if name not in self.distill_losses:
                raise ValueError(f'{key}: no distill loss named {name!r}; '
                                 f'valid: {losses}')
            args, required, var_kw = _forward_args(self.distill_losses[name])
            for arg, spec in mapping.items():
                if arg not in args and not var_kw:
                    valid = [a for a in args if a != DATA_SAMPLES_ARG]
                    raise ValueError(
                        f'{key}.{arg}: {type(self.distill_losses[name]).__name__}.forward '
                        f'has no argument {arg!r}; valid: {valid}')
                self._check_spec(f'{key}.{arg}', spec)
            missing = [a for a in required if a not in mapping and a != DATA_SAMPLES_ARG]
            if missing:
                raise ValueError(f'{key}: no mapping for required forward argument(s) '
                                 f'{missing} of {type(self.distill_losses[name]).__name__}')

    def _check_spec(self, key: str, spec: dict) -> None:
        if not isinstance(spec, dict):
            raise TypeError(f'{key} must be a dict with keys {_SPEC_KEYS}, got {spec!r}')
        unknown = set(spec) - set(_SPEC_KEYS)
        if unknown:
            raise ValueError(f'{key}: unknown key(s) {sorted(unknown)}; valid: {_SPEC_KEYS}')
        for required in ('from_student', 'recorder'):
            if required not in spec:
                raise ValueError(f'{key}: missing {required!r}')
        manager = self.student_recorders if spec['from_student'] else self.teacher_recorders
        side = 'student_recorders' if spec['from_student'] else 'teacher_recorders'
        if spec['recorder'] not in manager.recorders:
            raise ValueError(f'{key}.recorder: no recorder {spec["recorder"]!r} in {side}; '
                             f'valid: {sorted(manager.recorders)}')
        connector = spec.get('connector')
        if connector is not None and connector not in self.connectors:
            raise ValueError(f'{key}.connector: no connector {connector!r}; '
                             f'valid: {sorted(self.connectors)}')

    # --- wiring -----------------------------------------------------------
    def prepare_from_student(self, model: nn.Module) -> None:
        self.student_recorders.initialize(model)

    def prepare_from_teacher(self, model: nn.Module) -> None:
        self.teacher_recorders.initialize(model)

    def get_record(self, key: str, spec: dict) -> Any:
        manager = self.student_recorders if spec['from_student'] else self.teacher_recorders
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
