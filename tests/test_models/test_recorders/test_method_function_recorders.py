"""Method, function and parameter recorders (mmrazor's recorder unit tests
in spirit, pointed at cankd.testing.toy_functions)."""
import copy

import pytest
import torch
from torch import nn

from cankd.models.recorders import (FunctionInputs, FunctionOutputs, MethodInputs,
                                    MethodOutputs, Parameter, RecorderManager)
from cankd.registry import MODELS, TASK_UTILS
from cankd.testing import toy_functions as toy

PATH = 'cankd.testing.toy_functions'


def _init(recorder, model=None):
    recorder.initialize(model)
    return recorder


def test_function_outputs_records_each_call_and_restores():
    original = toy.toy_func
    r = _init(FunctionOutputs(f'{PATH}.toy_func'))
    with r:
        assert toy.toy_func is not original
        outs = [toy.execute_toy_func(i) for i in range(3)]  # called via the module
    assert toy.toy_func is original
    assert r.data_buffer == outs == [0, 1, 2]
    assert r.get_record_data(record_idx=2) == 2
    with r:  # entering again starts from an empty buffer
        pass
    assert r.data_buffer == []


def test_function_inputs_positional_then_keywords_in_signature_order():
    r = _init(FunctionInputs(f'{PATH}.toy_func2'))
    with r:
        toy.toy_func2(1, 2)
        toy.toy_func2(1, b=2)
        toy.toy_func2(b=2, a=1)
        toy.toy_func2(1)  # defaults are not filled in (mmrazor)
    assert r.data_buffer == [[1, 2], [1, 2], [1, 2], [1]]
    assert r.get_record_data(1, data_idx=1) == 2


def test_method_outputs_and_inputs_on_every_instance():
    outs = _init(MethodOutputs(f'{PATH}.ToyClass.random_int'))
    ins = _init(MethodInputs(f'{PATH}.ToyClass.func'))
    original = toy.ToyClass.__dict__['func']
    with outs, ins:
        values = [toy.ToyClass().random_int() for _ in range(3)]
        toy.ToyClass().func(1, 2)
        toy.ToyClass().func(y=2, x=1)
    assert outs.data_buffer == values
    assert ins.data_buffer == [[1, 2], [1, 2]]  # no self
    assert toy.ToyClass.__dict__['func'] is original


def test_static_and_inherited_methods_are_restored_exactly():
    r = _init(MethodInputs(f'{PATH}.ToyClass.static_func'))
    with r:
        assert toy.ToyClass.static_func(2, y=1) == 21  # still static
        assert toy.ToyClass().static_func(3) == 30
    assert r.data_buffer == [[2, 1], [3]]
    assert isinstance(toy.ToyClass.__dict__['static_func'], staticmethod)
    sub = _init(MethodOutputs(f'{PATH}.ToySubClass.func'))
    with sub:
        toy.ToySubClass().func(4)
        toy.ToyClass().func(5)  # the base class is not patched
    assert sub.data_buffer == [4]
    assert 'func' not in toy.ToySubClass.__dict__


def test_patch_is_restored_when_the_forward_raises():
    r = _init(MethodOutputs(f'{PATH}.ToyClass.func'))
    original = toy.ToyClass.__dict__['func']
    with pytest.raises(ZeroDivisionError):
        with r:
            toy.ToyClass().func(1)
            raise ZeroDivisionError
    assert toy.ToyClass.__dict__['func'] is original
    assert r.data_buffer == [1] and not r.recording
    # nested recorders of one function stack and unwind
    a, b = _init(FunctionOutputs(f'{PATH}.toy_func')), _init(FunctionOutputs(f'{PATH}.toy_func'))
    with a:
        with b:
            toy.toy_func(7)
        toy.toy_func(8)
    assert a.data_buffer == [7, 8] and b.data_buffer == [7]
    assert not hasattr(toy.toy_func, '__wrapped__')


def test_source_errors():
    with pytest.raises(TypeError, match='source should be a str'):
        FunctionOutputs(1)
    with pytest.raises(AssertionError, match='at least 1'):  # mmrazor asserts here
        FunctionOutputs('toy_func')
    with pytest.raises(ValueError, match='at least 2'):
        MethodOutputs('toy_functions.toy_func')
    with pytest.raises(ImportError, match='not imported correctly'):
        FunctionOutputs('no_such_module_xyz.f').initialize()
    with pytest.raises(ValueError, match='bb is not in'):
        FunctionOutputs(f'{PATH}.bb').initialize()
    with pytest.raises(TypeError, match='TOY_VAR should be a FunctionType'):
        FunctionOutputs(f'{PATH}.TOY_VAR').initialize()
    with pytest.raises(ValueError, match='missing is not in ToyClass'):
        MethodOutputs(f'{PATH}.ToyClass.missing').initialize()
    with pytest.raises(AssertionError, match='initialize'):  # not initialized
        with FunctionOutputs(f'{PATH}.toy_func'):
            pass


def test_recorders_deepcopy_after_use():
    """An EMA model deep-copies the algorithm, recorders included."""
    r = _init(MethodOutputs(f'{PATH}.ToyClass.func'))
    with r:
        toy.ToyClass().func(1)
    clone = copy.deepcopy(r)
    assert clone.data_buffer == [1]


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)
        self.toy = toy.ToyClass()

    def forward(self, x):
        return self.conv(x) + self.toy.random_int()


def test_parameter_recorder_and_manager_with_mixed_recorders():
    net = _Net()
    manager = RecorderManager(dict(
        conv=dict(type='ModuleOutputs', source='conv'),
        rand=dict(type='MethodOutputs', source=f'{PATH}.ToyClass.random_int'),
        weight=dict(type='Parameter', source='conv.weight')))
    manager.initialize(net)
    with manager:
        out = net(torch.ones(1, 1, 1, 1))
    conv = manager.get_recorder('conv').get_record_data()
    rand = manager.get_recorder('rand').get_record_data()
    torch.testing.assert_close(out, conv + rand)
    weight = manager.get_recorder('weight')
    assert weight.get_record_data() is net.conv.weight
    weight.reset_data_buffer()  # kept: it is the parameter, not a record
    with manager:
        pass
    assert weight.get_record_data() is net.conv.weight
    with pytest.raises(ValueError, match="no parameter named 'conv.wieght'.*'conv.weight'"):
        Parameter('conv.wieght').initialize(net)


def test_manager_leaves_every_recorder_when_one_fails_to_enter(monkeypatch):
    manager = RecorderManager(dict(
        a=dict(type='FunctionOutputs', source=f'{PATH}.toy_func'),
        b=dict(type='FunctionOutputs', source=f'{PATH}.toy_func2')))
    manager.initialize(nn.Module())
    original = toy.toy_func
    monkeypatch.delattr(toy, 'toy_func2')
    with pytest.raises(ValueError, match='toy_func2 is not in'):
        with manager:
            pass
    assert toy.toy_func is original


def test_registered_under_mmrazor_names():
    for name in ('ModuleOutputs', 'ModuleInputs', 'MethodOutputs', 'MethodInputs',
                 'FunctionOutputs', 'FunctionInputs', 'Parameter'):
        assert MODELS.get(name) is not None, name
        recorder_name = 'ParameterRecorder' if name == 'Parameter' else name + 'Recorder'
        assert TASK_UTILS.get(recorder_name) is MODELS.get(name), recorder_name
