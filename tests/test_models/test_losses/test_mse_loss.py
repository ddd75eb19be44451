"""cankd's MSELoss: the loss the official CanKD Deformable DETR config names
(type='MSELoss', preds_S/preds_T), which mmrazor never registered."""
import pytest
import torch
from mmdet.registry import MODELS as MMDET_MODELS

from cankd.models.losses import MSELoss
from cankd.registry import MODELS


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_matches_float64_reference(reduction):
    torch.manual_seed(0)
    s, t = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    sq = [(a - b) ** 2 for a, b in zip(s.double().flatten().tolist(),
                                       t.double().flatten().tolist())]
    out = MSELoss(loss_weight=2.0, reduction=reduction)(preds_S=s, preds_T=t)
    if reduction == 'none':
        assert out.flatten().tolist() == pytest.approx([2 * v for v in sq], rel=1e-6)
    else:
        ref = sum(sq) / (len(sq) if reduction == 'mean' else 1)
        assert out.item() == pytest.approx(2 * ref, rel=1e-6)


def test_student_gets_the_gradient_teacher_detached():
    s = torch.randn(2, 4, 3, 3, requires_grad=True)
    t = torch.randn(2, 4, 3, 3, requires_grad=True)
    MSELoss()(s, t).backward()
    assert s.grad is not None and t.grad is None


def test_registry_name_in_cankd_scope_mmdets_stays_in_mmdet():
    loss = MODELS.build(dict(type='MSELoss', loss_weight=1.0))
    assert type(loss) is MSELoss
    assert MMDET_MODELS.get('MSELoss') is not MSELoss


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"MSELoss: reduction must be one of \['none', "
                                         r"'mean', 'sum'\], got 'batchmean'"):
        MSELoss(reduction='batchmean')
    with pytest.raises(ValueError, match=r'preds_S \(2, 4, 3, 3\) and preds_T \(2, 4, 6, 6\)'):
        MSELoss()(torch.randn(2, 4, 3, 3), torch.randn(2, 4, 6, 6))
