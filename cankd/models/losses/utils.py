"""Checks shared by the distill losses."""
import torch


def check_feature_pair(loss_name: str, preds_S: torch.Tensor, preds_T: torch.Tensor,
                       student_channels: int, teacher_channels: int) -> None:
    """Both N x C x H x W on one grid, with the channels the loss was built for.

    Raises ``ValueError`` naming both shapes and suggesting a connector.
    """
    if (preds_S.dim() != 4 or preds_T.dim() != 4
            or preds_S.shape[1] != student_channels
            or preds_T.shape[1] != teacher_channels
            or preds_S.shape[0] != preds_T.shape[0]
            or preds_S.shape[2:] != preds_T.shape[2:]):
        raise ValueError(
            f'{loss_name}(student_channels={student_channels}, teacher_channels='
            f'{teacher_channels}): got student {tuple(preds_S.shape)} and teacher '
            f'{tuple(preds_T.shape)}; both must be N x C x H x W on the same H x W grid '
            'with those channels (set the channels, or map the student with a connector, '
            'e.g. a ConvModuleConnector)')
