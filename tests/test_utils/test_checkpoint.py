import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner import CheckpointLoader
from mmengine.runner import checkpoint as mme_ckpt

import cankd  # noqa: F401  (installs the safe loader)
from cankd.utils.checkpoint import UnsafeCheckpointError, safe_load


class _Payload:
    def __reduce__(self):
        return (print, ('this must never run',))


class _SneakyGetattr:
    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def _mmengine_style_checkpoint(path):
    hub = MessageHub.get_instance('test_checkpoint')
    for i in range(3):
        hub.update_scalar('train/loss', np.float64(1.0 + i))
    hub.update_info('iter', 3)
    torch.save({'meta': {'iter': 3, 'seed': np.int64(0)},
                'state_dict': {'w': torch.ones(2)},
                'message_hub': hub.state_dict()}, path)


def test_mmengine_checkpoint_fails_with_plain_torch_load_but_loads_safely(tmp_path):
    path = tmp_path / 'ckpt.pth'
    _mmengine_style_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):  # why cankd's loader exists
        torch.load(path)
    ckpt = safe_load(path)
    buffer = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == 2.0 and buffer.min() == 1.0 and buffer.current() == 3.0
    torch.testing.assert_close(ckpt['state_dict']['w'], torch.ones(2))


def test_mmengine_loaders_route_through_safe_load(tmp_path):
    path = tmp_path / 'ckpt.pth'
    _mmengine_style_checkpoint(path)
    assert CheckpointLoader._get_checkpoint_loader(str(path)).__module__ == \
        'cankd.utils.checkpoint'
    assert mme_ckpt.load_from_http.__module__ == 'cankd.utils.checkpoint'
    assert mme_ckpt._load_checkpoint(str(path))['meta']['iter'] == 3


@pytest.mark.parametrize('obj, named', [(_Payload(), 'print'),
                                        (_SneakyGetattr(), "getattr('HistoryBuffer', '__init__')")])
def test_unexpected_objects_are_refused_and_named(tmp_path, obj, named, capsys):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'x': obj}, path)
    with pytest.raises(UnsafeCheckpointError) as err:
        mme_ckpt._load_checkpoint(str(path))
    assert str(path) in str(err.value) and named in str(err.value)
    assert 'this must never run' not in capsys.readouterr().out


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='checkpoint not found: .*absent.pth'):
        mme_ckpt._load_checkpoint(str(tmp_path / 'absent.pth'))


def test_runner_checkpoints_are_written_atomically(tmp_path, monkeypatch):
    from mmengine.runner import runner as mme_runner

    from cankd.utils import checkpoint as ckpt_utils
    assert mme_runner.save_checkpoint is ckpt_utils.save_checkpoint
    target = tmp_path / 'iter_1.pth'
    target.write_bytes(b'previous good checkpoint')

    def interrupted(obj, f, *args, **kwargs):
        with open(f, 'wb') as fh:
            fh.write(b'half')
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, 'save', interrupted)
    with pytest.raises(KeyboardInterrupt):
        mme_runner.save_checkpoint({'state_dict': {}}, str(target))
    assert target.read_bytes() == b'previous good checkpoint'
    assert [p.name for p in tmp_path.iterdir()] == ['iter_1.pth']  # no temp file left
