# One distillation method a file; each registers itself in cankd.registry.MODELS.
from .ab_loss import ABLoss
from .acam_kd import ACAMKDLoss
from .at_loss import ATLoss
from .cankd_loss import CanKDLoss, select_association_order
from .crosskd import CenternessKDLoss, CrossKDBoxLoss, KDQualityFocalLoss
from .cwd import ChannelWiseDivergence
from .decoupled_kd import DKDLoss
from .dist_loss import DISTLoss
from .factor_transfer import FTLoss
from .fbkd_loss import FBKDLoss
from .fgd import FGDLoss
from .kd_soft_ce import KDSoftCELoss
from .kl_divergence import KLDivergence
from .l1_loss import L1Loss
from .l2_loss import L2Loss
from .ld_loss import LocalizationDistillLoss
from .mgd import MGDLoss
from .mse_loss import MSELoss
from .nlkd_family import (DCN_NLKD_Loss, NLKD_IN_align_Loss, NLKD_IN_Concatenation_Loss,
                          NLKD_IN_EBGaussian_Loss, NLKD_IN_Gaussian_Loss, NLKD_woIN_Loss,
                          NLKD_WOSkip_Loss, NonLocalKDLoss)
from .ofd_loss import OFDLoss
from .pkd import PKDLoss

__all__ = [
    'CanKDLoss', 'select_association_order', 'ACAMKDLoss', 'ChannelWiseDivergence', 'FGDLoss',
    'L2Loss', 'MGDLoss', 'PKDLoss', 'NonLocalKDLoss',
    # the CanKD paper's ablations, under the official names
    'NLKD_woIN_Loss', 'NLKD_WOSkip_Loss', 'NLKD_IN_Gaussian_Loss', 'NLKD_IN_EBGaussian_Loss',
    'NLKD_IN_Concatenation_Loss', 'NLKD_IN_align_Loss', 'DCN_NLKD_Loss',
    # head distillation: CrossKD, LD
    'KDQualityFocalLoss', 'CrossKDBoxLoss', 'CenternessKDLoss', 'LocalizationDistillLoss',
    # mmrazor's losses, under mmrazor's names
    'ABLoss', 'ATLoss', 'DISTLoss', 'DKDLoss', 'FBKDLoss', 'FTLoss', 'KDSoftCELoss',
    'KLDivergence', 'L1Loss', 'OFDLoss',
    # the official CanKD Deformable DETR config's loss
    'MSELoss'
]
