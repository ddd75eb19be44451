"""--amp on CPU: bf16 autocast through cankd.CPUAmpOptimWrapper (issue 17, item 11)."""
import copy
import math

import pytest
import torch
from mmengine.config import Config

from cankd.engine.optim_wrappers import CPUAmpOptimWrapper, enable_amp
from cankd.registry import MODELS, OPTIM_WRAPPERS
from cankd.testing import demo_seg_batch, tiny_segmentor


def _seg_distill(tmp_path):
    """A tiny FCN distillation: teacher 16 wide, student 8 wide, CanKD on the last stage."""
    teacher_cfg = tiny_segmentor(base_channels=16)
    teacher = MODELS.build(teacher_cfg)
    ckpt = tmp_path / 'teacher.pth'
    torch.save({'state_dict': teacher.state_dict(), 'meta': {}}, ckpt)
    distiller = dict(
        type='ConfigurableDistiller',
        student_recorders=dict(bb=dict(type='ModuleOutputs', source='backbone.layer4')),
        teacher_recorders=dict(bb=dict(type='ModuleOutputs', source='backbone.layer4')),
        connectors=dict(s_conn=dict(type='ConvModuleConnector', in_channel=64,
                                    out_channel=128, norm_cfg=None, act_cfg=None)),
        distill_losses=dict(loss_cankd=dict(type='CanKDLoss', in_channels=128,
                                            loss_weight=1.0)),
        loss_forward_mappings=dict(loss_cankd=dict(
            s_feature=dict(from_student=True, recorder='bb', connector='s_conn'),
            t_feature=dict(from_student=False, recorder='bb'))))
    torch.manual_seed(0)
    return MODELS.build(dict(type='SingleTeacherDistill', architecture=tiny_segmentor(8),
                             teacher=teacher_cfg, teacher_ckpt=str(ckpt),
                             distiller=distiller))


def _losses(model, optim_wrapper_type, iters=3):
    model.train()
    wrapper = OPTIM_WRAPPERS.build(dict(
        type=optim_wrapper_type, optimizer=torch.optim.SGD(model.parameters(), lr=0.01)))
    history = []
    for it in range(iters):
        log_vars = model.train_step(demo_seg_batch(size=(32, 32), seed=it, num_classes=4), wrapper)
        history.append({k: float(v.detach()) for k, v in log_vars.items()})
    return history


def test_bf16_distillation_losses_are_finite_and_close_to_fp32(tmp_path):
    model = _seg_distill(tmp_path)
    fp32 = _losses(copy.deepcopy(model), 'OptimWrapper')
    bf16 = _losses(copy.deepcopy(model), 'cankd.CPUAmpOptimWrapper')
    assert {'student.decode.loss_ce', 'distill.loss_cankd', 'loss'} <= set(bf16[0])
    for it, (a, b) in enumerate(zip(fp32, bf16)):
        for key in ('student.decode.loss_ce', 'distill.loss_cankd', 'loss'):
            assert math.isfinite(b[key]), (it, key, b[key])
            # bf16 keeps 8 bits of mantissa (0.4 % a rounding); measured: under 0.3 %
            assert b[key] == pytest.approx(a[key], rel=0.02), (it, key, a[key], b[key])


def test_autocast_is_on_in_the_optim_context_only():
    layer = torch.nn.Linear(4, 4)
    wrapper = CPUAmpOptimWrapper(optimizer=torch.optim.SGD(layer.parameters(), lr=0.1))
    with wrapper.optim_context(layer):
        assert layer(torch.ones(2, 4)).dtype == torch.bfloat16
    assert layer(torch.ones(2, 4)).dtype == torch.float32
    before = layer.weight.detach().clone()
    with wrapper.optim_context(layer):
        loss = layer(torch.ones(2, 4)).float().sum()
    wrapper.update_params(loss)
    assert layer.weight.dtype == torch.float32 and not torch.equal(layer.weight, before)
    assert 'loss_scaler' not in wrapper.state_dict()


def test_cpu_amp_wrapper_names_bad_arguments():
    params = [torch.nn.Parameter(torch.ones(1))]
    with pytest.raises(ValueError, match=r"dtype must be one of \('bfloat16', 'float16'\), "
                                         r"got 'float64'"):
        CPUAmpOptimWrapper(dtype='float64', optimizer=torch.optim.SGD(params, lr=0.1))
    with pytest.raises(TypeError, match='no loss_scale'):
        CPUAmpOptimWrapper(loss_scale='dynamic', optimizer=torch.optim.SGD(params, lr=0.1))


def test_enable_amp_picks_the_wrapper_for_the_device():
    def cfg(**optim_wrapper):
        return Config(dict(optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1),
                                              **optim_wrapper)))

    gpu = cfg(type='OptimWrapper')
    assert enable_amp(gpu, has_accelerator=True) == 'AmpOptimWrapper'
    assert gpu.optim_wrapper.loss_scale == 'dynamic'
    cpu = cfg(type='AmpOptimWrapper', loss_scale=512., dtype='float16')
    assert enable_amp(cpu, has_accelerator=False) == 'cankd.CPUAmpOptimWrapper'
    assert 'loss_scale' not in cpu.optim_wrapper and cpu.optim_wrapper.dtype == 'float16'
    assert cpu.optim_wrapper.optimizer.type == 'SGD'
    with pytest.raises(ValueError, match="the config has 'ApexOptimWrapper'"):
        enable_amp(cfg(type='ApexOptimWrapper'), has_accelerator=False)
    with pytest.raises(ValueError, match='no optim_wrapper'):
        enable_amp(Config(dict()), has_accelerator=False)
