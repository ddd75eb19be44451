import pytest
import torch
from torch import nn

from cankd.models.recorders import ModuleInputs, ModuleOutputs, RecorderManager


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 1)
        self.body = nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU())

    def forward(self, x):
        y = self.stem(x)
        return self.body(y), self.body(y * 2)


def test_module_outputs_and_inputs_capture_only_inside_context():
    net = _Net()
    manager = RecorderManager(dict(
        out=dict(type='ModuleOutputs', source='body'),
        inp=dict(type='ModuleInputs', source='body.0')))
    manager.initialize(net)
    x = torch.randn(2, 3, 5, 5)
    net(x)  # outside the context: nothing recorded
    assert manager.get_recorder('out').data_buffer == []
    with manager:
        first, second = net(x)
    out = manager.get_recorder('out')
    assert len(out.data_buffer) == 2  # body ran twice
    torch.testing.assert_close(out.get_record_data(record_idx=1), second)
    inp = manager.get_recorder('inp').get_record_data(0, data_idx=0)
    torch.testing.assert_close(inp, net.stem(x))
    with manager:  # entering again starts from an empty buffer
        pass
    assert out.data_buffer == []


def test_missing_source_lists_closest_names():
    with pytest.raises(ValueError, match=r"no module named 'bod'.*'body'"):
        ModuleOutputs('bod').prepare_from_model(_Net())


def test_record_index_errors_say_what_was_recorded():
    net = _Net()
    rec = ModuleOutputs('stem')
    rec.prepare_from_model(net)
    with pytest.raises(RuntimeError, match='recorded nothing'):
        rec.get_record_data()
    rec.recording = True
    net(torch.randn(1, 3, 2, 2))
    with pytest.raises(TypeError, match='drop data_idx'):
        rec.get_record_data(0, data_idx=0)
    with pytest.raises(IndexError, match='ran 1 time'):
        rec.get_record_data(record_idx=3)
    tup = ModuleInputs('body')
    tup.prepare_from_model(net)
    tup.recording = True
    net(torch.randn(1, 3, 2, 2))
    with pytest.raises(IndexError, match=r'recorded 1 items \(valid: 0..0\)'):
        tup.get_record_data(0, data_idx=4)
