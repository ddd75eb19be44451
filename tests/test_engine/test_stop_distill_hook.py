"""StopDistillHook (mmrazor's): no distill losses from ``stop_epoch`` on.

Built with ``_scope_='cankd'``: a Runner in an earlier test may have left
another default scope.
"""
import types

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.optim import OptimWrapper

from cankd.registry import HOOKS, MODELS
from cankd.testing import demo_det_batch, tiny_retinanet


def _algorithm():
    distiller = dict(
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        distill_losses=dict(loss_pkd=dict(type='PKDLoss')),
        loss_forward_mappings=dict(loss_pkd=dict(
            preds_S=dict(from_student=True, recorder='fpn', data_idx=0),
            preds_T=dict(from_student=False, recorder='fpn', data_idx=0))))
    return MODELS.build(dict(_scope_='cankd', type='FpnTeacherDistill',
                             architecture=tiny_retinanet(8, 16),
                             teacher=tiny_retinanet(16, 16), distiller=distiller))


def _runner(model, epoch):
    return types.SimpleNamespace(model=model, epoch=epoch,
                                 logger=MMLogger.get_instance('stop_distill_test'))


def test_distill_losses_stop_at_stop_epoch():
    torch.manual_seed(0)
    model = _algorithm()
    hook = HOOKS.build(dict(_scope_='cankd', type='StopDistillHook', stop_epoch=2))
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    for epoch, distilled in ((0, True), (1, True), (2, False), (3, False)):
        hook.before_train_epoch(_runner(model, epoch))
        log_vars = model.train_step(demo_det_batch(), optim)
        assert ('distill.loss_pkd' in log_vars) == distilled, (epoch, sorted(log_vars))
        assert any(k.startswith('student.') for k in log_vars)
    assert model.distillation_stopped is True


def test_bad_arguments_and_models_are_named():
    with pytest.raises(ValueError, match=r'stop_epoch must be an int >= 0, got -1'):
        HOOKS.build(dict(_scope_='cankd', type='StopDistillHook', stop_epoch=-1))
    hook = HOOKS.build(dict(_scope_='cankd', type='StopDistillHook', stop_epoch=0))
    plain = MODELS.build(tiny_retinanet(8, 16))
    with pytest.raises(TypeError, match='RetinaNet, not a distillation algorithm'):
        hook.before_train_epoch(_runner(plain, 0))
