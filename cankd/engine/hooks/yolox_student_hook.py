"""mmdet's YOLOXModeSwitchHook for a distillation algorithm."""
from typing import Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from cankd.registry import HOOKS

__all__ = ['DistillYOLOXModeSwitchHook']


@HOOKS.register_module()
class DistillYOLOXModeSwitchHook(Hook):
    """mmdet's ``YOLOXModeSwitchHook`` (same arguments; last epochs: no mosaic / mixup, YOLOX's L1
    loss on) where ``runner.model`` is a distillation algorithm: mmdet's hook
    sets ``model.bbox_head.use_l1``, which a ``FpnTeacherDistill`` does not
    have; this one sets it on the student (``architecture``). The pipeline
    switch is the dataset's, shared by teacher and student. The teacher
    computes no task loss, so its ``use_l1`` is left alone. A plain YOLOX
    (no ``architecture``) is switched as mmdet does. mmdet is not imported:
    ``cankd.engine`` serves segmentation too.
    """

    def __init__(self, num_last_epochs: int = 15,
                 skip_type_keys: Sequence[str] = ('Mosaic', 'RandomAffine', 'MixUp')) -> None:
        self.num_last_epochs = num_last_epochs
        self.skip_type_keys = skip_type_keys
        self._restart_dataloader = False
        self._has_switched = False

    def before_train_epoch(self, runner) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        student = getattr(model, 'architecture', getattr(model, 'detector', model))
        train_loader = runner.train_dataloader
        switch = (runner.epoch + 1) >= runner.max_epochs - self.num_last_epochs
        if switch and not self._has_switched:
            runner.logger.info('No mosaic and mixup aug now!')
            train_loader.dataset.update_skip_type_keys(self.skip_type_keys)
            if getattr(train_loader, 'persistent_workers', False) is True:
                # as mmdet: force the workers to restart with the new pipeline
                train_loader._DataLoader__initialized = False
                train_loader._iterator = None
                self._restart_dataloader = True
            runner.logger.info('Add additional L1 loss to the student now!')
            student.bbox_head.use_l1 = True
            self._has_switched = True
        elif self._restart_dataloader:
            train_loader._DataLoader__initialized = True
