import pytest
import torch
from mmdet.registry import MODELS as MMDET_MODELS

from cankd.models.losses import L1Loss
from cankd.registry import MODELS


def plain_abs(s, t):
    return [abs(a - b) for a, b in zip(s.double().flatten().tolist(),
                                       t.double().flatten().tolist())]


@pytest.mark.parametrize('shape', [(2, 3, 4, 5), (4, 10)])
@pytest.mark.parametrize('kwargs,reduce', [
    (dict(), 'mean'), (dict(reduction='sum'), 'sum'), (dict(size_average=False), 'sum'),
    (dict(size_average=True, reduction='sum'), 'mean'), (dict(reduce=False), 'none'),
    (dict(reduction='none'), 'none')])
def test_matches_float64_reference(shape, kwargs, reduce):
    torch.manual_seed(0)
    s, t = torch.randn(shape), torch.randn(shape)
    diffs = plain_abs(s, t)
    out = L1Loss(loss_weight=-1.0, **kwargs)(s, t)
    if reduce == 'none':
        assert out.shape == s.shape
        assert out.flatten().tolist() == pytest.approx([-d for d in diffs], rel=1e-6)
    else:
        ref = sum(diffs) / (len(diffs) if reduce == 'mean' else 1)
        assert out.item() == pytest.approx(-ref, rel=1e-6)


def test_registry_name_is_mmrazors_in_cankd_scope():
    """mmdet registers its own (weighted, avg_factor) L1Loss; in the cankd
    scope 'L1Loss' is mmrazor's feature loss, in the mmdet scope mmdet's."""
    loss = MODELS.build(dict(type='L1Loss', loss_weight=2.0))
    assert type(loss) is L1Loss
    assert MMDET_MODELS.get('L1Loss') is not L1Loss
    assert MODELS.get('mmdet.L1Loss') is MMDET_MODELS.get('L1Loss')


def test_gradient_reaches_student_only():
    s = torch.randn(2, 3, 4, 4, requires_grad=True)
    t = torch.randn(2, 3, 4, 4, requires_grad=True)
    L1Loss()(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"L1Loss: reduction must be one of \['none', 'mean', "
                       r"'sum'\], got 'batchmean'"):
        L1Loss(reduction='batchmean')
    with pytest.raises(ValueError, match=r'L1Loss: s_feature \(2, 3\) and t_feature \(2, 4\)'):
        L1Loss()(torch.randn(2, 3), torch.randn(2, 4))
