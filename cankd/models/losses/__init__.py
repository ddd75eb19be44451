# One distillation method a file; each registers itself in cankd.registry.MODELS.
from .acam_kd import ACAMKDLoss
from .cankd_loss import CanKDLoss, select_association_order
from .cwd import ChannelWiseDivergence
from .fgd import FGDLoss
from .l2_loss import L2Loss
from .mgd import MGDLoss
from .pkd import PKDLoss

__all__ = [
    'CanKDLoss', 'select_association_order', 'ACAMKDLoss', 'ChannelWiseDivergence', 'FGDLoss',
    'L2Loss', 'MGDLoss', 'PKDLoss'
]
