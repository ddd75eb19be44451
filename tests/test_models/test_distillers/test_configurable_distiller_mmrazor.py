"""ConfigurableDistiller as mmrazor's users expect it (mmrazor's
test_configurable_distill.py in spirit): None arguments, error types,
connector lists, connector_idx, deliveries."""
import copy

import pytest
import torch
from mmengine import ConfigDict
from torch import nn

from cankd.models.distillers import ConfigurableDistiller
from cankd.registry import MODELS


class ToyDistillLoss(nn.Module):

    def forward(self, arg1, arg2):
        return (arg1 - arg2).abs().mean()


@pytest.fixture(autouse=True)
def toy_loss():
    MODELS.register_module(module=ToyDistillLoss, force=True)
    yield
    MODELS.module_dict.pop('ToyDistillLoss')


def _kwargs():
    recorders = ConfigDict(conv=dict(type='ModuleOutputs', source='conv'))
    return ConfigDict(
        student_recorders=recorders, teacher_recorders=copy.deepcopy(recorders),
        distill_losses=dict(loss_toy=dict(type='ToyDistillLoss')),
        loss_forward_mappings=dict(loss_toy=dict(
            arg1=dict(from_student=True, recorder='conv'),
            arg2=dict(from_student=False, recorder='conv'))))


def test_none_arguments_mean_none():
    ConfigurableDistiller(**_kwargs())
    kwargs = _kwargs()
    kwargs['distill_losses'] = None  # the mapping then names an unknown loss
    with pytest.raises(AssertionError, match="no distill loss named 'loss_toy'"):
        ConfigurableDistiller(**kwargs)
    kwargs = _kwargs()
    kwargs['loss_forward_mappings'] = None
    with pytest.warns(UserWarning, match=r"\['loss_toy'\] are never computed"):
        distiller = ConfigurableDistiller(**kwargs)
    assert distiller.loss_forward_mappings == {}
    assert distiller.compute_distill_losses() == {}
    empty = ConfigurableDistiller(distill_losses=None, loss_forward_mappings=None)
    assert len(empty.distill_losses) == 0 and len(empty.deliveries) == 0


@pytest.mark.parametrize('edit, error, message', [
    (lambda k: k.update(loss_forward_mappings=list('AAA')), TypeError,
     'loss_forward_mappings should be a dict'),
    (lambda k: k.loss_forward_mappings.update(loss_toy=[]), TypeError,
     'Each item of loss_forward_mappings should be a dict'),
    (lambda k: k.loss_forward_mappings.loss_toy.arg1.update(from_student=''), TypeError,
     'arg1.from_student should be a bool'),
    (lambda k: k.loss_forward_mappings.loss_toy.arg1.update(from_student=1), TypeError,
     'from_student should be a bool'),
    (lambda k: k.loss_forward_mappings.loss_toy.arg1.update(recorder='fpn'), AssertionError,
     "no recorder 'fpn' in student_recorders"),
])
def test_errors_have_mmrazors_types(edit, error, message):
    kwargs = _kwargs()
    edit(kwargs)
    with pytest.raises(error, match=message):
        ConfigurableDistiller(**kwargs)


class _Net(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 1)

    def forward(self, x):
        return self.conv(x)


def test_connector_list_is_sequential_and_connector_idx_picks_an_output():
    kwargs = _kwargs()
    norm = dict(type='BN', affine=False, track_running_stats=False)
    kwargs['connectors'] = dict(
        chain=[dict(type='ConvModuleConnector', in_channel=3, out_channel=4, act_cfg=None),
               dict(type='NormConnector', norm_cfg=norm, in_channels=4)],
        fbkd=dict(type='FBKDTeacherConnector', in_channels=4))
    kwargs.loss_forward_mappings.loss_toy.arg1.connector = 'chain'
    kwargs.loss_forward_mappings.loss_toy.arg2.update(connector='fbkd', connector_idx=4)
    distiller = ConfigurableDistiller(**kwargs)
    assert isinstance(distiller.connectors['chain'], nn.Sequential)
    student, teacher = _Net(3), _Net(4)
    distiller.prepare_from_student(student)
    distiller.prepare_from_teacher(teacher)
    x = torch.randn(2, 3, 4, 4)
    with distiller.student_recorders, distiller.teacher_recorders:
        s, t = student(x), teacher(x)
    loss = distiller.compute_distill_losses()['loss_toy']
    # FBKDTeacherConnector's 5th output is its input: the teacher feature itself
    torch.testing.assert_close(loss, (distiller.connectors['chain'](s) - t).abs().mean())


def test_distill_deliveries_build_a_manager():
    kwargs = _kwargs()
    kwargs['distill_deliveries'] = dict(rand=dict(
        type='MethodOutputs', max_keep_data=2,
        method_path='cankd.testing.toy_functions.ToyClass.random_int'))
    distiller = ConfigurableDistiller(**kwargs)
    assert list(distiller.deliveries.deliveries) == ['rand']
    distiller.set_deliveries_override(True)
    assert distiller.deliveries.deliveries['rand'].override_data
