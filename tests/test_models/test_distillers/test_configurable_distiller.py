import pytest
import torch
from torch import nn

from cankd.models.distillers import ConfigurableDistiller


class _Net(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.neck = nn.Conv2d(3, channels, 1)

    def forward(self, x):
        return self.neck(x)


def _cfg(**overrides):
    cfg = dict(
        student_recorders=dict(feat=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(feat=dict(type='ModuleOutputs', source='neck')),
        connectors=dict(lift=dict(type='ConvModuleConnector', in_channel=4, out_channel=8,
                                  act_cfg=None)),
        distill_losses=dict(loss_cankd=dict(type='CanKDLoss', in_channels=8, loss_weight=2.0)),
        loss_forward_mappings=dict(loss_cankd=dict(
            s_feature=dict(from_student=True, recorder='feat', connector='lift'),
            t_feature=dict(from_student=False, recorder='feat'))))
    cfg.update(overrides)
    return cfg


def test_distill_loss_runs_on_recorded_features_through_connector():
    student, teacher = _Net(4), _Net(8)
    distiller = ConfigurableDistiller(**_cfg())
    distiller.prepare_from_student(student)
    distiller.prepare_from_teacher(teacher)
    x = torch.randn(2, 3, 6, 6)
    with distiller.teacher_recorders, torch.no_grad():
        t = teacher(x)
    with distiller.student_recorders:
        s = student(x)
    losses = distiller.compute_distill_losses()
    assert set(losses) == {'loss_cankd'}
    expected = distiller.distill_losses['loss_cankd'](distiller.connectors['lift'](s), t)
    torch.testing.assert_close(losses['loss_cankd'], expected)
    losses['loss_cankd'].backward()
    assert student.neck.weight.grad is not None
    assert teacher.neck.weight.grad is None


@pytest.mark.parametrize('overrides, message', [
    (dict(loss_forward_mappings=dict(
        loss_cankd=dict(s_feature=dict(from_student=True, recorder='feat'),
                        t_feature=dict(from_student=False, recorder='feat')),
        loss_typo=dict())),
     r"loss_forward_mappings.loss_typo: no distill loss named 'loss_typo'; "
     r"valid: \['loss_cankd'\]"),
    (dict(loss_forward_mappings=dict(loss_cankd=dict(
        preds_S=dict(from_student=True, recorder='feat'),
        t_feature=dict(from_student=False, recorder='feat')))),
     r"loss_cankd.preds_S: CanKDLoss.forward has no argument 'preds_S'; valid: "
     r"\['s_feature', 't_feature'\]"),
    (dict(loss_forward_mappings=dict(loss_cankd=dict(
        s_feature=dict(from_student=True, recorder='fpn'),
        t_feature=dict(from_student=False, recorder='feat')))),
     r"s_feature.recorder: no recorder 'fpn' in student_recorders; valid: \['feat'\]"),
    (dict(loss_forward_mappings=dict(loss_cankd=dict(
        s_feature=dict(from_student=True, recorder='feat', connector='lfit'),
        t_feature=dict(from_student=False, recorder='feat')))),
     r"s_feature.connector: no connector 'lfit'; valid: \['lift'\]"),
    (dict(loss_forward_mappings=dict(loss_cankd=dict(
        s_feature=dict(from_student=True, recorder='feat')))),
     r"no mapping for required forward argument\(s\) \['t_feature'\]"),
    (dict(loss_forward_mappings=dict(loss_cankd=dict(
        s_feature=dict(from_student=True, recorder='feat', data_index=0),
        t_feature=dict(from_student=False, recorder='feat')))),
     r"unknown key\(s\) \['data_index'\]"),
    (dict(distill_losses=dict(cankd=dict(type='CanKDLoss', in_channels=8)),
          loss_forward_mappings=dict()),
     'must contain "loss"'),
    (dict(loss_forward_mappings=dict()),
     r"distill loss 'loss_cankd' has no entry in loss_forward_mappings"),
])
def test_mapping_errors_name_the_key_and_valid_names(overrides, message):
    with pytest.raises(ValueError, match=message):
        ConfigurableDistiller(**_cfg(**overrides))


def test_connector_channel_mismatch_names_recorder_and_channels():
    student, teacher = _Net(6), _Net(8)  # connector expects 4 channels
    distiller = ConfigurableDistiller(**_cfg())
    distiller.prepare_from_student(student)
    distiller.prepare_from_teacher(teacher)
    x = torch.randn(1, 3, 4, 4)
    with distiller.teacher_recorders:
        teacher(x)
    with distiller.student_recorders:
        student(x)
    with pytest.raises(ValueError, match=r"s_feature: connector 'lift' on recorder 'feat'.*"
                                         r"B x 4 x H x W, got \(1, 6, 4, 4\)"):
        distiller.compute_distill_losses()


def test_data_idx_out_of_range_names_the_config_key():
    student, teacher = _Net(8), _Net(8)
    distiller = ConfigurableDistiller(**_cfg(
        connectors=dict(),
        loss_forward_mappings=dict(loss_cankd=dict(
            s_feature=dict(from_student=True, recorder='feat', data_idx=3),
            t_feature=dict(from_student=False, recorder='feat')))))
    distiller.prepare_from_student(student)
    distiller.prepare_from_teacher(teacher)
    with distiller.teacher_recorders, distiller.student_recorders:
        student(torch.randn(1, 3, 4, 4))
        teacher(torch.randn(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r'loss_forward_mappings.loss_cankd.s_feature: '
                                         r'data_idx=3 given but'):
        distiller.compute_distill_losses()
