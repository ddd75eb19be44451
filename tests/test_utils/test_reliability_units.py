"""Issue 17, the parts that need no training run: damaged checkpoint files,
stale temporaries, file modes, the export tool's refusals, teacher
checkpoints that do not fit, and the non-finite check of a single step."""
import importlib.util
import logging
import os
from pathlib import Path

import pytest
import torch
from mmengine.optim import OptimWrapper

import cankd  # noqa: F401  (installs the safe loader and saver)
from cankd.engine.hooks import NonFiniteCheckHook, NonFiniteLossError
from cankd.engine.safety_defaults import apply_safety_defaults
from cankd.models.algorithms.teacher_checkpoint import TeacherCheckpointError
from cankd.registry import MODELS
from cankd.testing import demo_det_batch, tiny_retinanet
from cankd.utils.checkpoint import CorruptCheckpointError, safe_load
from cankd.utils.checkpoint_saving import find_latest_checkpoint
from cankd.utils.io import atomic_torch_save, remove_stale_temporaries

TOOLS = Path(__file__).resolve().parents[2] / 'tools'


def _good(path, value=1.0):
    torch.save({'state_dict': {'w': torch.full((256,), value)}, 'meta': {}}, path)
    return path


# --- 9: damaged checkpoints -------------------------------------------------
def test_empty_checkpoint_is_named_as_empty(tmp_path):
    path = tmp_path / 'empty.pth'
    path.write_bytes(b'')
    with pytest.raises(CorruptCheckpointError, match=r'empty.pth: empty file \(0 bytes\)'):
        safe_load(path)


def test_truncated_checkpoint_is_named_as_truncated(tmp_path):
    path = _good(tmp_path / 'ckpt.pth')
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(CorruptCheckpointError, match=r'ckpt.pth: truncated or damaged'):
        safe_load(path)


def test_random_bytes_are_not_a_checkpoint(tmp_path):
    path = tmp_path / 'noise.pth'
    path.write_bytes(os.urandom(4096).replace(b'PK', b'pk').replace(b'\x80', b'\x81'))
    with pytest.raises(CorruptCheckpointError, match=r'noise.pth: not a PyTorch checkpoint'):
        safe_load(path)


def test_damaged_member_inside_a_complete_zip_is_reported_as_damaged(tmp_path):
    path = _good(tmp_path / 'ckpt.pth')
    data = bytearray(path.read_bytes())
    start = data.find(b'data.pkl') + 40  # inside the pickle stream
    data[start:start + 16] = b'\x00' * 16
    path.write_bytes(bytes(data))
    with pytest.raises((CorruptCheckpointError, )) as info:
        safe_load(path)
    assert 'ckpt.pth' in str(info.value) and 'unsafe' not in str(info.value).lower()


def test_empty_last_checkpoint_falls_back_to_newest_complete(tmp_path, caplog):
    _good(tmp_path / 'iter_2.pth')
    newest = _good(tmp_path / 'iter_4.pth')
    os.utime(tmp_path / 'iter_2.pth', (1, 1))
    (tmp_path / 'iter_6.pth').write_bytes(b'PK\x03\x04 cut short')  # a torn file is skipped
    (tmp_path / 'last_checkpoint').write_text('')
    with caplog.at_level(logging.WARNING):
        assert find_latest_checkpoint(str(tmp_path)) == str(newest)


def test_last_checkpoint_naming_a_missing_file_falls_back(tmp_path):
    kept = _good(tmp_path / 'iter_2.pth')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_4.pth'))
    assert find_latest_checkpoint(str(tmp_path)) == str(kept)


def test_empty_last_checkpoint_without_any_checkpoint_is_an_error(tmp_path):
    (tmp_path / 'last_checkpoint').write_text('')
    with pytest.raises(FileNotFoundError, match='last_checkpoint is empty.*no complete'):
        find_latest_checkpoint(str(tmp_path))


# --- 7: temporaries and file modes ------------------------------------------
def test_stale_temporaries_of_dead_processes_are_removed_only(tmp_path):
    dead = tmp_path / '.tmp-cankd-999999999-abc.pth'
    live = tmp_path / f'.tmp-cankd-{os.getpid()}-abc.pth'
    foreign = tmp_path / '.tmp-something-else.pth'
    for path in (dead, live, foreign):
        path.write_bytes(b'x')
    assert remove_stale_temporaries(str(tmp_path)) == [str(dead)]
    assert live.exists() and foreign.exists() and not dead.exists()


def test_saved_files_get_plain_torch_save_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_torch_save({'w': torch.ones(1)}, str(tmp_path / 'a.pth'))
        torch.save({'w': torch.ones(1)}, tmp_path / 'b.pth')
    finally:
        os.umask(old)
    mode = (tmp_path / 'a.pth').stat().st_mode & 0o777
    assert mode == 0o644 == (tmp_path / 'b.pth').stat().st_mode & 0o777
    assert not list(tmp_path.glob('.tmp-*'))


# --- 3: the export tool -----------------------------------------------------
def _export_tool():
    spec = importlib.util.spec_from_file_location(
        'cankd_tools_export', TOOLS / 'model_converters' / 'convert_kd_ckpt_to_student.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture
def kd_ckpt(tmp_path):
    path = tmp_path / 'kd.pth'
    torch.save({'state_dict': {'architecture.w': torch.ones(2), 'teacher.w': torch.zeros(2)},
                'meta': {}}, path)
    return path


def test_export_refuses_to_overwrite_its_input(kd_ckpt):
    before = kd_ckpt.read_bytes()
    with pytest.raises(SystemExit, match='is the input checkpoint'):
        _export_tool()([str(kd_ckpt), '--out-path', str(kd_ckpt)])
    with pytest.raises(SystemExit, match='is the input checkpoint'):  # even with --force
        _export_tool()([str(kd_ckpt), '--out-path', str(kd_ckpt), '--force'])
    assert kd_ckpt.read_bytes() == before


def test_export_refuses_an_existing_output_unless_forced(kd_ckpt, tmp_path):
    out = tmp_path / 'student.pth'
    out.write_bytes(b'precious')
    with pytest.raises(SystemExit, match='exists; pass --force'):
        _export_tool()([str(kd_ckpt), '--out-path', str(out)])
    assert out.read_bytes() == b'precious'
    _export_tool()([str(kd_ckpt), '--out-path', str(out), '--force'])
    assert list(safe_load(out)['state_dict']) == ['w']


def test_export_to_a_directory_or_under_a_file_is_a_clear_error(kd_ckpt, tmp_path):
    with pytest.raises(SystemExit, match='is a directory; give a file path'):
        _export_tool()([str(kd_ckpt), '--out-path', str(tmp_path)])
    with pytest.raises(SystemExit, match='is a file, not a folder'):
        _export_tool()([str(kd_ckpt), '--out-path', str(kd_ckpt / 'student.pth')])
    _export_tool()([str(kd_ckpt), '--out-path', str(tmp_path / 'new' / 'student.pth')])
    assert (tmp_path / 'new' / 'student.pth').is_file()  # a missing folder is made


# --- 2: teacher checkpoints that do not fit ---------------------------------
def _distill(teacher_ckpt, **kwargs):
    distiller = dict(
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        distill_losses=dict(loss_cankd=dict(type='CanKDLoss', in_channels=16)),
        loss_forward_mappings=dict(loss_cankd=dict(
            s_feature=dict(from_student=True, recorder='fpn', data_idx=0),
            t_feature=dict(from_student=False, recorder='fpn', data_idx=0))))
    return MODELS.build(dict(
        type='FpnTeacherDistill', architecture=tiny_retinanet(base_channels=8, neck_channels=16),
        teacher=tiny_retinanet(base_channels=16, neck_channels=16), teacher_ckpt=str(teacher_ckpt),
        distiller=distiller, **kwargs))


def test_students_checkpoint_as_teacher_fails_listing_the_mismatch(tmp_path):
    student = MODELS.build(tiny_retinanet(base_channels=8, neck_channels=16))
    torch.save({'state_dict': student.state_dict()}, tmp_path / 'student.pth')
    with pytest.raises(TeacherCheckpointError,
                       match=r'does not fit the teacher \(RetinaNet.*with another shape: '
                             r'backbone.*teacher_ckpt_strict=False'):
        _distill(tmp_path / 'student.pth')


def test_other_architecture_as_teacher_fails_listing_missing_and_unexpected(tmp_path):
    torch.save({'state_dict': {'head.fc.weight': torch.ones(3, 3)}}, tmp_path / 'other.pth')
    with pytest.raises(TeacherCheckpointError,
                       match=r'missing from the checkpoint: backbone.*1 unexpected in the '
                             r'checkpoint: head.fc.weight'):
        _distill(tmp_path / 'other.pth')


def test_distillation_checkpoint_as_teacher_points_at_the_export_tool(tmp_path):
    teacher = MODELS.build(tiny_retinanet(base_channels=16, neck_channels=16))
    torch.save({'state_dict': teacher.state_dict()}, tmp_path / 'teacher.pth')
    kd = _distill(tmp_path / 'teacher.pth')
    torch.save({'state_dict': kd.state_dict()}, tmp_path / 'kd.pth')
    with pytest.raises(TeacherCheckpointError,
                       match=r'is a distillation checkpoint.*convert_kd_ckpt_to_student.py'):
        _distill(tmp_path / 'kd.pth')


def test_partial_teacher_loading_when_asked_for(tmp_path):
    teacher = MODELS.build(tiny_retinanet(base_channels=16, neck_channels=16))
    state = {k: v + 1 if v.is_floating_point() else v for k, v in teacher.state_dict().items()}
    state.pop('bbox_head.retina_cls.bias')
    state['extra.w'] = torch.ones(1)
    torch.save({'state_dict': state}, tmp_path / 'partial.pth')
    with pytest.raises(TeacherCheckpointError):
        _distill(tmp_path / 'partial.pth')
    kd = _distill(tmp_path / 'partial.pth', teacher_ckpt_strict=False)
    loaded = kd.teacher.state_dict()
    torch.testing.assert_close(loaded['neck.fpn_convs.0.conv.weight'],
                               state['neck.fpn_convs.0.conv.weight'])


def test_matching_teacher_checkpoint_loads_exactly(tmp_path):
    teacher = MODELS.build(tiny_retinanet(base_channels=16, neck_channels=16))
    torch.save({'state_dict': teacher.state_dict()}, tmp_path / 'teacher.pth')
    kd = _distill(tmp_path / 'teacher.pth')
    for k, v in teacher.state_dict().items():
        assert torch.equal(kd.teacher.state_dict()[k], v), k


# --- 1: the non-finite check on one step ------------------------------------
class _Runner:
    """What the hook reads of a Runner."""

    def __init__(self, model, optim_wrapper):
        self.model, self.optim_wrapper, self.iter = model, optim_wrapper, 6


@pytest.mark.parametrize('action', ['raise', 'skip'])
def test_nan_distill_term_stops_before_the_weights_change(tmp_path, action):
    teacher = MODELS.build(tiny_retinanet(base_channels=16, neck_channels=16))
    torch.save({'state_dict': teacher.state_dict()}, tmp_path / 'teacher.pth')
    kd = _distill(tmp_path / 'teacher.pth')
    kd.distiller.distill_losses['loss_cankd'].loss_weight = float('nan')
    optim = OptimWrapper(torch.optim.SGD(kd.parameters(), lr=0.1))
    hook = NonFiniteCheckHook(action=action, max_skips=1)
    hook.before_train(_Runner(kd, optim))
    before = {k: v.detach().clone() for k, v in kd.student.named_parameters()}
    if action == 'raise':
        with pytest.raises(NonFiniteLossError,
                           match=r'iteration 7: not finite: .*distill.loss_cankd=nan'):
            kd.train_step(demo_det_batch(), optim)
    else:
        kd.train_step(demo_det_batch(), optim)  # skipped, with a warning
        with pytest.raises(NonFiniteLossError, match=r'2 steps in a row \(max_skips=1\)'):
            kd.train_step(demo_det_batch(), optim)
    for k, v in kd.student.named_parameters():  # no optimizer step was taken
        assert torch.equal(v, before[k]), k


def test_nonfinite_gradient_alone_is_caught():
    model = torch.nn.Linear(2, 1)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    hook = NonFiniteCheckHook()

    class _Model(torch.nn.Module):
        def parse_losses(self, losses):
            return losses, {}
    hook.before_train(_Runner(_Model(), optim))
    loss = (model(torch.ones(1, 2)) * torch.tensor(float('inf'))).clamp(max=1.0).sum()
    with pytest.raises(NonFiniteLossError, match='gradient norm=(nan|inf)'):
        optim.update_params(loss)


def test_checkpoint_with_nonfinite_weights_is_refused():
    hook = NonFiniteCheckHook()
    with pytest.raises(NonFiniteLossError, match=r'refusing to save.*neck.w is not finite'):
        hook.before_save_checkpoint(_Runner(None, None), {'state_dict': {
            'backbone.w': torch.ones(2), 'neck.w': torch.tensor([1.0, float('nan')])}})


def test_safety_hooks_are_on_by_default_and_can_be_turned_off():
    from mmengine.config import Config
    cfg = apply_safety_defaults(Config(dict(default_hooks=dict(logger=dict(type='LoggerHook')))))
    assert cfg.default_hooks.nonfinite_check.type == 'cankd.NonFiniteCheckHook'
    assert cfg.default_hooks.exact_resume.type == 'cankd.ExactResumeHook'
    cfg = apply_safety_defaults(Config(dict(default_hooks=dict(nonfinite_check=None))))
    assert 'nonfinite_check' not in cfg.default_hooks
    with pytest.raises(ValueError, match="action must be 'raise' or 'skip'"):
        NonFiniteCheckHook(action='ignore')


class _ToyModel(torch.nn.Module):
    """A one-weight model with mmengine's BaseModel interface (loss / predict)."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def train_step(self, data, optim_wrapper):
        loss = ((self.weight - 1) ** 2).sum()
        optim_wrapper.update_params(loss)
        return dict(loss=loss)

    def val_step(self, data):
        return [float(self.weight)]

    test_step = val_step


def test_save_best_with_rotation_keeps_best_and_latest(tmp_path):
    """mmengine's best-checkpoint save nests a step save; with cankd's deferred
    removals the first best save crashed (AttributeError on the backend) on
    every config with ``save_best``. The best and the newest kept checkpoint
    stay; the older ones go once the new files are written."""
    from mmengine.evaluator import BaseMetric
    from mmengine.runner import Runner

    class Weight(BaseMetric):  # the metric rises every validation: a new best each time
        def process(self, data_batch, data_samples):
            self.results.extend(data_samples)

        def compute_metrics(self, results):
            return dict(w=float(results[-1]))

    loader = dict(dataset=[0] * 4, batch_size=1, sampler=dict(type='DefaultSampler',
                                                               shuffle=False),
                  collate_fn=dict(type='default_collate'))
    runner = Runner(
        model=_ToyModel(), work_dir=str(tmp_path), train_dataloader=loader,
        val_dataloader=loader, val_evaluator=[Weight()],
        train_cfg=dict(by_epoch=False, max_iters=6, val_interval=2), val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2,
                                           max_keep_ckpts=1, save_best='w', rule='greater')),
        default_scope='mmengine')
    runner.train()
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['best_w_iter_6.pth', 'iter_6.pth']
