from typing import Dict, List, Union

import torch
from mmengine.model import is_model_wrapper
from mmengine.runner import ValLoop
from mmengine.runner.amp import autocast
from torch.utils.data import DataLoader

from cankd.registry import LOOPS


@LOOPS.register_module()
class SingleTeacherDistillValLoop(ValLoop):
    """Validation for a distillation algorithm: evaluates the student.

    The student's metrics keep their usual names (``coco/bbox_mAP``,
    ``mIoU``), so ``CheckpointHook(save_best=...)`` works as for a plain model.
    With ``evaluate_teacher=True`` the teacher is evaluated once per run (the
    first validation) and its metrics are logged with a ``teacher.`` prefix
    (``teacher.<name>.`` for each teacher of ``MultiTeacherDistill``):
    it is frozen, so evaluating it again would print the same numbers.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Dict, List],
                 fp16: bool = False,
                 evaluate_teacher: bool = False) -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        self.evaluate_teacher = evaluate_teacher
        self._teacher_done = False

    def run(self) -> dict:
        self.runner.call_hook('before_val')
        self.runner.call_hook('before_val_epoch')
        self.runner.model.eval()
        self.val_loss.clear()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        if self.evaluate_teacher and not self._teacher_done:
            for prefix, teacher in self._teachers():
                teacher_metrics = self._evaluate_teacher(teacher)
                metrics.update({f'{prefix}.{k}': v for k, v in teacher_metrics.items()})
            self._teacher_done = True
        self.runner.call_hook('after_val_epoch', metrics=metrics)
        self.runner.call_hook('after_val')
        return metrics

    def _teachers(self):
        """(metric prefix, teacher): ``teacher`` for one, ``teacher.<name>``
        for each of MultiTeacherDistill's ``teachers``."""
        model = self.runner.model
        if is_model_wrapper(model):
            model = model.module
        if hasattr(model, 'teachers'):
            return [(f'teacher.{name}', t) for name, t in model.teachers.items()]
        return [('teacher', model.teacher)]

    @torch.no_grad()
    def _evaluate_teacher(self, teacher) -> dict:
        for data_batch in self.dataloader:
            with autocast(enabled=self.fp16):
                outputs = teacher.val_step(data_batch)
            self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        return self.evaluator.evaluate(len(self.dataloader.dataset))
