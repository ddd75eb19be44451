from .toy_cityscapes import (TOY_CITYSCAPES_CLASSES, TOY_CITYSCAPES_METAINFO,
                             TOY_CITYSCAPES_PALETTE, ToyCityscapesDataset, make_toy_cityscapes)
from .toy_coco import TOY_COCO_CLASSES, TOY_COCO_METAINFO, TOY_COCO_PALETTE, make_toy_coco

__all__ = [
    'make_toy_coco', 'TOY_COCO_CLASSES', 'TOY_COCO_PALETTE', 'TOY_COCO_METAINFO',
    'make_toy_cityscapes', 'ToyCityscapesDataset', 'TOY_CITYSCAPES_CLASSES',
    'TOY_CITYSCAPES_PALETTE', 'TOY_CITYSCAPES_METAINFO'
]
