"""mmdet 2.x / mmseg 0.x config names in ``cfg_path`` and ``_base_``."""
import pytest
from mmengine.config import Config

import cankd  # noqa: F401  (installs the lookup)
from cankd.models.algorithms.build import _load_model_config
from cankd.utils.package_config import LegacyConfigNameWarning, resolve_package_cfg_path


@pytest.mark.parametrize('old,new', [
    ('mmdet::faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py',
     'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'),
    ('mmdet::retinanet/retinanet_x101_64x4d_fpn_1x_coco.py',
     'mmdet::retinanet/retinanet_x101-64x4d_fpn_1x_coco.py'),
    ('mmdet::gfl/gfl_r101_fpn_mstrain_2x_coco.py', 'mmdet::gfl/gfl_r101_fpn_ms-2x_coco.py'),
    # the old name only in the metafile's weights URL (%2B for '+')
    ('mmdet::reppoints/reppoints_moment_x101_fpn_dconv_c3-c5_gn-neck+head_2x_coco.py',
     'mmdet::reppoints/reppoints-moment_x101-dconv-c3-c5_fpn-gn_head-gn_2x_coco.py'),
    ('mmseg::pspnet/pspnet_r18-d8_512x1024_80k_cityscapes.py',
     'mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py'),
])
def test_old_names_resolve_with_a_warning_naming_the_file(old, new):
    with pytest.warns(LegacyConfigNameWarning) as record:
        assert resolve_package_cfg_path(old) == new
    message = ' '.join(str(w.message) for w in record
                       if issubclass(w.category, LegacyConfigNameWarning))
    assert old in message and new in message and new.split('::')[1] in message


def test_current_names_are_unchanged_and_silent(recwarn):
    path = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
    assert resolve_package_cfg_path(path) == path
    assert not [w for w in recwarn if issubclass(w.category, LegacyConfigNameWarning)]


def test_no_match_names_the_path_and_close_matches():
    with pytest.raises(FileNotFoundError) as err:
        resolve_package_cfg_path('mmdet::faster_rcnn/faster_rcnn_r50_fpn_1x_cocoo.py')
    message = str(err.value)
    assert 'mmdet::faster_rcnn/faster_rcnn_r50_fpn_1x_cocoo.py' in message
    assert 'closest: mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py' in message


def test_cfg_path_with_old_name_and_pretrained(recwarn):
    """build_submodel's cfg_path: the model-zoo weights of the resolved config."""
    with pytest.warns(LegacyConfigNameWarning):
        cfg = _load_model_config('mmdet::faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py',
                                 pretrained=True)
    assert cfg.model.type == 'FasterRCNN'
    assert cfg.model_path.endswith('faster_rcnn_r50_fpn_1x_coco_20200130-047c8118.pth')


@pytest.mark.parametrize('base,resolved', [
    ('mmdet::faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py', 'faster-rcnn_r50_fpn_1x_coco.py'),
    ('mmdet::_base_/models/faster_rcnn_r50_fpn.py', '_base_/models/faster-rcnn_r50_fpn.py'),
])
def test_base_with_old_names(tmp_path, base, resolved):
    path = tmp_path / 'cfg.py'
    path.write_text(f"_base_ = ['{base}']\nmarker = 1\n")
    with pytest.warns(LegacyConfigNameWarning) as record:
        cfg = Config.fromfile(str(path))
    assert cfg.model.type == 'FasterRCNN' and cfg.marker == 1
    messages = ' '.join(str(w.message) for w in record
                        if issubclass(w.category, LegacyConfigNameWarning))
    assert base in messages and resolved in messages


def test_base_without_match_fails_clearly(tmp_path):
    path = tmp_path / 'cfg.py'
    path.write_text("_base_ = ['mmdet::retinanet/retinanet_r50_fpn_9x_coco.py']\n")
    with pytest.raises(FileNotFoundError,
                       match=r'mmdet::retinanet/retinanet_r50_fpn_9x_coco.py: no such config'
                       r'.*closest: mmdet::retinanet/retinanet_r50_fpn_'):
        Config.fromfile(str(path))
