from abc import abstractmethod

import torch
from mmengine.model import BaseModule


class BaseConnector(BaseModule):
    """Maps a recorded student (or teacher) feature before a distill loss.

    Subclasses implement :meth:`forward_train`; ``forward`` is kept separate
    (as in mmrazor) so a connector can add behaviour around it.
    """

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        return self.forward_train(feature)

    @abstractmethod
    def forward_train(self, feature: torch.Tensor) -> torch.Tensor:
        """Map ``feature`` (B x C_in x H x W) to what the loss expects."""
