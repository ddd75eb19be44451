import torch
from torch import nn

from cankd.registry import MODELS
from .kl_divergence import check_pair, check_tau


def pearson_rows(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Pearson correlation along dim 1 (the denominator gets ``+ eps``, not a clamp)."""
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + eps)


@MODELS.register_module()
class DISTLoss(nn.Module):
    """DIST: inter- and intra-class Pearson correlation of soft predictions.

    `Knowledge Distillation from A Stronger Teacher
    <https://arxiv.org/abs/2205.10536>`_. Arguments, defaults, forward
    argument names (``logits_S``/``logits_T``) and numerics follow mmrazor's
    ``DISTLoss`` (mmrazor/models/losses/dist_loss.py, v1.0.0)::

        y = softmax(logits / tau, dim=1)
        r(a, b) = <a - mean a, b - mean b> / (|a - mean a| |b - mean b| + 1e-8)
        inter = 1 - mean_n r(y_S[n, :], y_T[n, :])    # per sample, over classes
        intra = 1 - mean_c r(y_S[:, c], y_T[:, c])    # per class, over the batch
        loss = loss_weight * tau^2 * (inter_loss_weight * inter
                                      + intra_loss_weight * intra)

    With N x C x H x W inputs (as mmrazor's tensor ops allow) the correlation
    is taken per pixel for ``inter`` and per (class, pixel) over the batch for
    ``intra``.

    Args:
        inter_loss_weight: Weight of the inter-class term. Defaults to 1.0.
        intra_loss_weight: Weight of the intra-class term. Defaults to 1.0.
        tau: Temperature. Defaults to 1.0.
        loss_weight: Weight of the loss. Defaults to 1.0.
        teacher_detach: Detach ``logits_T``. Defaults to True.

    Checked against a float64 reference that loops over samples and classes
    (tests/test_models/test_losses/test_dist_loss.py).
    """

    def __init__(self,
                 inter_loss_weight: float = 1.0,
                 intra_loss_weight: float = 1.0,
                 tau: float = 1.0,
                 loss_weight: float = 1.0,
                 teacher_detach: bool = True) -> None:
        super().__init__()
        check_tau('DISTLoss', tau)
        self.inter_loss_weight = inter_loss_weight
        self.intra_loss_weight = intra_loss_weight
        self.tau = tau
        self.loss_weight = loss_weight
        self.teacher_detach = teacher_detach

    def forward(self, logits_S: torch.Tensor, logits_T: torch.Tensor) -> torch.Tensor:
        check_pair('DISTLoss', ('logits_S', 'logits_T'), logits_S, logits_T)
        if self.teacher_detach:
            logits_T = logits_T.detach()
        y_s = (logits_S / self.tau).softmax(dim=1)
        y_t = (logits_T / self.tau).softmax(dim=1)
        inter = 1 - pearson_rows(y_s, y_t).mean()
        intra = 1 - pearson_rows(y_s.transpose(0, 1), y_t.transpose(0, 1)).mean()
        loss = self.tau**2 * (self.inter_loss_weight * inter + self.intra_loss_weight * intra)
        return self.loss_weight * loss
