from typing import Dict, Optional

from cankd.registry import TASK_UTILS
from ..recorders.patching import exit_all
from .distill_delivery import DistillDelivery

SUPPORT_DELIVERIES = ('FunctionOutputs', 'MethodOutputs')


class DeliveryConfigError(ValueError, AssertionError):
    """An unknown delivery type (mmrazor asserts here, hence AssertionError)."""


class DistillDeliveryManager:
    """A named set of deliveries, entered and left together (mmrazor's
    ``DistillDeliveryManager``).

    ``deliveries`` maps names to configs whose ``type`` is
    ``'FunctionOutputs'`` or ``'MethodOutputs'`` (mmrazor's vocabulary; the
    ``...Delivery`` class names are accepted too), or to built deliveries.
    Setting ``override_data`` sets it on every delivery: False records (the
    teacher's forward), True replays (the student's).
    """

    def __init__(self, deliveries: Optional[Dict[str, dict]] = None) -> None:
        self.deliveries: Dict[str, DistillDelivery] = {}
        for name, cfg in (deliveries or {}).items():
            if not isinstance(cfg, DistillDelivery):
                cfg = dict(cfg)
                kind = cfg.get('type', '')
                base = kind[:-len('Delivery')] if str(kind).endswith('Delivery') else kind
                if base not in SUPPORT_DELIVERIES:
                    raise DeliveryConfigError(
                        f'distill_deliveries.{name}: type {kind!r} is not a delivery; '
                        f'valid: {list(SUPPORT_DELIVERIES)}')
                cfg['type'] = base + 'Delivery'
                cfg = TASK_UTILS.build(cfg)
            self.deliveries[name] = cfg
        self._override_data = False

    @property
    def override_data(self) -> bool:
        return self._override_data

    @override_data.setter
    def override_data(self, override: bool) -> None:
        self._override_data = override
        for delivery in self.deliveries.values():
            delivery.override_data = override

    def __len__(self) -> int:
        return len(self.deliveries)

    def __enter__(self) -> 'DistillDeliveryManager':
        entered = []
        try:
            for delivery in self.deliveries.values():
                delivery.__enter__()
                entered.append(delivery)
        except BaseException as exc:
            exit_all(reversed(entered), type(exc), exc, exc.__traceback__)
            raise
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        exit_all(reversed(list(self.deliveries.values())), exc_type, exc_value, traceback)
