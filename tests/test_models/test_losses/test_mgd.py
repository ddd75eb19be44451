import pytest
import torch

from cankd.models.connectors import MGDConnector
from cankd.models.losses import MGDLoss
from cankd.registry import MODELS


# --- MGDLoss ------------------------------------------------------------------
def test_loss_hand_values():
    # sum of squared errors over everything, divided by the batch size N
    s, t = torch.ones(1, 1, 1, 2), torch.zeros(1, 1, 1, 2)
    assert MGDLoss(alpha_mgd=1.0)(s, t).item() == pytest.approx(2.0)
    s, t = torch.full((2, 3, 2, 2), 2.0), torch.zeros(2, 3, 2, 2)  # 24 elements * 4 / 2
    assert MGDLoss(alpha_mgd=0.5)(s, t).item() == pytest.approx(0.5 * 24 * 4 / 2)
    assert MGDLoss()(s, t).item() == pytest.approx(2e-5 * 48)  # default alpha_mgd


def test_loss_gradient_reaches_student_only():
    s = torch.randn(2, 4, 3, 3, requires_grad=True)
    t = torch.randn(2, 4, 3, 3, requires_grad=True)
    MGDLoss()(s, t).backward()
    assert torch.allclose(s.grad, 2e-5 * 2 * (s - t).detach() / 2)
    assert t.grad is None


def test_loss_shape_mismatch():
    with pytest.raises(ValueError, match=r'\(2, 4, 3, 3\).*\(2, 8, 3, 3\).*MGDConnector'):
        MGDLoss()(torch.randn(2, 4, 3, 3), torch.randn(2, 8, 3, 3))


# --- MGDConnector -------------------------------------------------------------
def plain_generation(conn, x):
    """conv3x3 -> relu -> conv3x3 of the connector, written out."""
    conv1, conv2 = conn.generation[0], conn.generation[2]
    h = torch.nn.functional.conv2d(x, conv1.weight, conv1.bias, padding=1).clamp(min=0)
    return torch.nn.functional.conv2d(h, conv2.weight, conv2.bias, padding=1)


def test_connector_without_masking_is_align_then_generation():
    torch.manual_seed(0)
    conn = MGDConnector(4, 6, lambda_mgd=0.0)
    x = torch.randn(2, 4, 5, 5)
    aligned = torch.nn.functional.conv2d(x, conn.align.weight, conn.align.bias)
    assert torch.allclose(conn(x), plain_generation(conn, aligned), atol=1e-6)
    assert MGDConnector(6, 6).align is None  # no align when channels match


def test_connector_fully_masked_sees_zeros():
    torch.manual_seed(0)
    conn = MGDConnector(3, 3, lambda_mgd=1.0)
    x = torch.randn(1, 3, 4, 4)
    assert torch.allclose(conn(x), plain_generation(conn, torch.zeros_like(x)), atol=1e-6)


@pytest.mark.parametrize('on_channel', [False, True])
def test_mask_ratio_and_layout(on_channel):
    conn = MGDConnector(8, 8, lambda_mgd=0.65, mask_on_channel=on_channel)
    torch.manual_seed(0)
    x = torch.ones(64, 8, 16, 16)
    mask = conn.random_mask(x)
    assert mask.shape == ((64, 8, 1, 1) if on_channel else (64, 1, 16, 16))
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert (1 - mask.mean().item()) == pytest.approx(0.65, abs=0.05)
    # mmrazor's rule with the same generator state: rand > 1 - lambda -> masked
    torch.manual_seed(1)
    mask = conn.random_mask(x)
    torch.manual_seed(1)
    expected = torch.where(torch.rand(mask.shape) > 1 - 0.65, 0., 1.)
    assert torch.equal(mask, expected)


def test_connector_and_loss_gradients():
    torch.manual_seed(0)
    conn = MGDConnector(4, 8, lambda_mgd=0.5)
    s = torch.randn(2, 4, 6, 6, requires_grad=True)
    t = torch.randn(2, 8, 6, 6, requires_grad=True)
    MGDLoss()(conn(s), t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None
    assert all(p.grad is not None for p in conn.parameters())


def test_connector_bad_inputs():
    with pytest.raises(ValueError, match=r'N x 4 x H x W.*\(2, 5, 3, 3\)'):
        MGDConnector(4, 8)(torch.randn(2, 5, 3, 3))
    with pytest.raises(ValueError, match='lambda_mgd'):
        MGDConnector(4, 8, lambda_mgd=1.5)


def test_build_from_registry_both_spellings():
    loss = MODELS.build(dict(type='MGDLoss', alpha_mgd=0.00007))
    assert isinstance(loss, MGDLoss) and loss.alpha_mgd == 0.00007
    for name in ('MGDConnector', 'MGDConncetor'):  # mmrazor's spelling ports as is
        conn = MODELS.build(dict(type=name, student_channels=4, teacher_channels=8,
                                 lambda_mgd=0.65))
        assert isinstance(conn, MGDConnector)
        assert conn(torch.randn(1, 4, 3, 3)).shape == (1, 8, 3, 3)
