"""mmrazor's ``StopDistillHook``: train without the distill losses from an epoch on."""
from typing import Dict

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from cankd.registry import HOOKS

__all__ = ['StopDistillHook']


def _no_distill_losses(data_samples=None) -> Dict:
    return {}


@HOOKS.register_module()
class StopDistillHook(Hook):
    """From epoch ``stop_epoch`` on (0-based, as ``runner.epoch``), the
    distillation algorithm trains the student on its task losses only: no
    ``distill.*`` losses, as mmrazor's hook does (the teacher still runs).

    It sets ``distillation_stopped = True`` on the algorithm (mmrazor's
    attribute) and switches its distiller's ``compute_distill_losses`` off.
    Neither is saved in checkpoints: on ``--resume`` the hook stops it again
    before the first epoch at or after ``stop_epoch``. Under distributed
    training the connectors then get no gradient: keep
    ``find_unused_parameters=True`` (mmrazor's configs set it).

    Args:
        stop_epoch: the first epoch without distill losses.
    """

    priority = 'LOW'

    def __init__(self, stop_epoch: int) -> None:
        if isinstance(stop_epoch, bool) or not isinstance(stop_epoch, int) or stop_epoch < 0:
            raise ValueError(f'StopDistillHook: stop_epoch must be an int >= 0, got '
                             f'{stop_epoch!r}')
        self.stop_epoch = stop_epoch

    def before_train_epoch(self, runner) -> None:
        if runner.epoch < self.stop_epoch:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        distiller = getattr(model, 'distiller', None)
        if not hasattr(distiller, 'compute_distill_losses'):
            raise TypeError(f'StopDistillHook: the model is a {type(model).__name__}, not a '
                            'distillation algorithm with a distiller (SingleTeacherDistill, '
                            'FpnTeacherDistill, ...); remove the hook')
        if getattr(model, 'distillation_stopped', False):
            return
        model.distillation_stopped = True
        distiller.compute_distill_losses = _no_distill_losses
        runner.logger.info(f'Distillation has been stopped! (StopDistillHook: epoch '
                           f'{runner.epoch} >= stop_epoch {self.stop_epoch})')
