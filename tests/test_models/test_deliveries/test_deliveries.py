"""Deliveries (mmrazor's delivery unit tests in spirit) and their wiring in
ConfigurableDistiller / SingleTeacherDistill."""
import copy

import pytest
import torch
from mmengine.model import BaseModel
from torch import nn

from cankd.models.algorithms import SingleTeacherDistill
from cankd.models.deliveries import (DeliveryQueueError, DistillDeliveryManager,
                                     FunctionOutputsDelivery, MethodOutputsDelivery)
from cankd.testing import toy_functions as toy

PATH = 'cankd.testing.toy_functions'


def test_function_delivery_replays_teacher_outputs_in_order():
    original = toy.random_int
    delivery = FunctionOutputsDelivery(func_path=f'{PATH}.random_int', max_keep_data=2)
    delivery.override_data = False
    with delivery:
        teacher = [toy.random_int(), toy.random_int()]
    with pytest.raises(AssertionError, match='push into an full queue'):  # mmrazor's type
        with delivery:
            toy.random_int()
    delivery.override_data = True
    with delivery:
        student = [toy.random_int(), toy.random_int()]
    assert student == teacher
    with pytest.raises(DeliveryQueueError, match='pop from an empty queue'):
        with delivery:
            toy.random_int()
    assert toy.random_int is original  # restored, also after the errors


def test_method_delivery_on_every_instance_and_restored():
    original = toy.ToyClass.__dict__['random_int']
    delivery = MethodOutputsDelivery(method_path=f'{PATH}.ToyClass.random_int',
                                     max_keep_data=1)
    with delivery:
        teacher = toy.ToyClass().random_int()
    delivery.override_data = True
    with delivery:
        assert toy.ToyClass().random_int() == teacher
    assert toy.ToyClass.__dict__['random_int'] is original
    copy.deepcopy(delivery)  # EMA deep-copies the model: nothing unpicklable kept


def test_delivery_errors():
    with pytest.raises(TypeError, match='func_path should be a str'):
        FunctionOutputsDelivery(func_path=1, max_keep_data=1)
    with pytest.raises(AssertionError, match='func_path'):
        FunctionOutputsDelivery(func_path='toy_func', max_keep_data=1)
    with pytest.raises(ImportError, match='aaa is not imported'):
        FunctionOutputsDelivery(func_path='aaa.bb', max_keep_data=1)
    with pytest.raises(ValueError, match='bb is not in'):
        FunctionOutputsDelivery(func_path=f'{PATH}.bb', max_keep_data=1)
    with pytest.raises(TypeError, match='TOY_VAR should be'):
        FunctionOutputsDelivery(func_path=f'{PATH}.TOY_VAR', max_keep_data=1)
    with pytest.raises(ValueError, match='method_path'):
        MethodOutputsDelivery(method_path='toy_functions.random_int', max_keep_data=1)
    with pytest.raises(ValueError, match='max_keep_data'):
        FunctionOutputsDelivery(func_path=f'{PATH}.random_int', max_keep_data=0)


def test_manager_sets_override_on_all_and_builds_mmrazor_types():
    manager = DistillDeliveryManager(dict(
        a=dict(type='MethodOutputs', max_keep_data=2,
               method_path=f'{PATH}.ToyClass.random_int'),
        b=dict(type='FunctionOutputsDelivery', max_keep_data=1,
               func_path=f'{PATH}.random_int')))
    assert len(manager) == 2 and len(DistillDeliveryManager()) == 0
    manager.override_data = False
    with manager:
        teacher = [toy.ToyClass().random_int(), toy.ToyClass().random_int(), toy.random_int()]
    manager.override_data = True
    assert all(d.override_data for d in manager.deliveries.values())
    with manager:
        student = [toy.ToyClass().random_int(), toy.ToyClass().random_int(), toy.random_int()]
    assert student == teacher
    with pytest.raises(AssertionError, match="type 'ModuleOutputs' is not a delivery"):
        DistillDeliveryManager(dict(a=dict(type='ModuleOutputs', source='x')))


class _MaskedNet(BaseModel):
    """Draws a random mask in its forward, as a sampler in a head would."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        feat = self.conv(inputs * toy.random_mask(inputs))
        return dict(loss_toy=feat.mean()) if mode == 'loss' else feat


def _algorithm(deliveries):
    return SingleTeacherDistill(
        architecture=_MaskedNet(4), teacher=_MaskedNet(8),
        distiller=dict(
            type='ConfigurableDistiller',
            student_recorders=dict(x=dict(type='ModuleInputs', source='conv')),
            teacher_recorders=dict(x=dict(type='ModuleInputs', source='conv')),
            distill_deliveries=deliveries,
            distill_losses=dict(loss_masked=dict(type='L2Loss')),
            loss_forward_mappings=dict(loss_masked=dict(
                s_feature=dict(from_student=True, recorder='x', data_idx=0),
                t_feature=dict(from_student=False, recorder='x', data_idx=0)))))


@pytest.mark.parametrize('calculate_student_loss', [True, False])
def test_student_sees_the_teachers_random_draws(calculate_student_loss):
    """The conv inputs (image x random mask) of teacher and student agree
    only when the mask function is delivered."""
    torch.manual_seed(0)
    inputs = torch.randn(2, 3, 8, 8)
    plain = _algorithm(None)
    assert plain(inputs, mode='loss')['distill.loss_masked'] > 0
    model = _algorithm(dict(mask=dict(type='FunctionOutputs', max_keep_data=1,
                                      func_path=f'{PATH}.random_mask')))
    model.calculate_student_loss = calculate_student_loss
    original = toy.random_mask
    for _ in range(2):  # the queue is emptied by every student forward
        losses = model(inputs, mode='loss')
        assert losses['distill.loss_masked'] == 0
        assert ('student.loss_toy' in losses) == calculate_student_loss
    assert toy.random_mask is original
    assert model.distiller.deliveries.override_data  # left replaying, as mmrazor


@pytest.mark.parametrize('teacher', ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', 3, None])
def test_teacher_that_is_not_a_dict_or_module_is_a_type_error(teacher):
    with pytest.raises(TypeError, match=r'teacher should be a `dict` or `nn.Module`'):
        SingleTeacherDistill(architecture=_MaskedNet(4), teacher=teacher,
                             distiller=dict(type='ConfigurableDistiller'))
    with pytest.raises(TypeError, match=r'architecture should be a `dict`'):
        SingleTeacherDistill(architecture='student.py', teacher=_MaskedNet(4),
                             distiller=dict(type='ConfigurableDistiller'))
