import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from cankd.datasets import (TOY_CITYSCAPES_CLASSES, TOY_CITYSCAPES_METAINFO,
                            ToyCityscapesDataset, make_toy_cityscapes)
from cankd.datasets import toy_cityscapes
from cankd.datasets.toy_coco import _scene_rng

W, H = 128, 64
ARGS = dict(num_train=4, num_val=2, img_size=(W, H), seed=1)
K = len(TOY_CITYSCAPES_CLASSES)


@pytest.fixture(scope='module')
def city(tmp_path_factory):
    return make_toy_cityscapes(str(tmp_path_factory.mktemp('toy_city')), **ARGS)


def _pairs(root, split):
    imgs = sorted(osp.join(d, n) for d, _, ns in os.walk(osp.join(root, 'leftImg8bit', split))
                  for n in ns if n.endswith('_leftImg8bit.png'))
    return [(p, p.replace(osp.join(root, 'leftImg8bit'), osp.join(root, 'gtFine')).replace(
        '_leftImg8bit.png', '_gtFine_labelTrainIds.png')) for p in imgs]


def _label(path):
    return cv2.imread(path, cv2.IMREAD_UNCHANGED)


def test_layout_and_labels(city):
    root = city['data_root']
    for split, n in (('train', 4), ('val', 2)):
        pairs = _pairs(root, split)
        assert len(pairs) == n
        for img_path, seg_path in pairs:
            city_name = osp.basename(osp.dirname(img_path))
            assert osp.basename(img_path).startswith(city_name + '_')
            img, lbl = cv2.imread(img_path), _label(seg_path)
            assert img.shape == (H, W, 3) and lbl.shape == (H, W) and lbl.dtype == np.uint8
            assert set(np.unique(lbl)) <= set(range(K)) | {255}
    assert len(os.listdir(osp.join(root, 'leftImg8bit', 'train'))) == 3  # three cities
    assert TOY_CITYSCAPES_METAINFO['classes'] == TOY_CITYSCAPES_CLASSES
    assert len(TOY_CITYSCAPES_METAINFO['palette']) == K


def test_scenes_make_sense():
    # Over a few scenes every class shows up, sky lies above road, and the
    # pixels of one class look alike while different classes look different.
    rendered = [toy_cityscapes.render_city_scene(_scene_rng(0, 'train', i, salt=1), W, H)
                for i in range(24)]
    labels = np.stack([lbl for _, lbl in rendered])
    assert set(np.unique(labels)) == set(range(K)) | {255}
    rows = np.arange(H)[None, :, None]
    sky, road = toy_cityscapes.SKY, toy_cityscapes.ROAD
    assert (rows * (labels == sky)).sum() / (labels == sky).sum() < \
        (rows * (labels == road)).sum() / (labels == road).sum()
    img, lbl = rendered[0]
    inside = [img[lbl == c].std(0).mean() for c in (sky, road)]
    between = np.abs(img[lbl == sky].mean(0) - img[lbl == road].mean(0)).mean()
    assert between > 2 * max(inside)


def test_deterministic_per_seed(city, tmp_path):
    again = make_toy_cityscapes(str(tmp_path / 'a'), **ARGS)
    other = make_toy_cityscapes(str(tmp_path / 'b'), **{**ARGS, 'seed': 2})
    first = _pairs(city['data_root'], 'val')[0]
    for path in first:
        twin = path.replace(city['data_root'], again['data_root'])
        np.testing.assert_array_equal(_label(path), _label(twin))
        assert not np.array_equal(
            _label(path), _label(path.replace(city['data_root'], other['data_root'])))


def test_reuse_and_regeneration(tmp_path):
    out = str(tmp_path / 'd')
    paths = make_toy_cityscapes(out, **ARGS)
    manifest_stamp = os.stat(paths['manifest']).st_mtime_ns
    img_path, seg_path = [p for p in _pairs(out, 'train') if '_000003_' in p[0]][0]
    seg_stamp = os.stat(seg_path).st_mtime_ns
    assert make_toy_cityscapes(out, **ARGS) == paths
    assert os.stat(seg_path).st_mtime_ns == seg_stamp  # reused untouched

    original = _label(seg_path)
    os.remove(seg_path)
    make_toy_cityscapes(out, **ARGS)
    np.testing.assert_array_equal(_label(seg_path), original)
    assert os.stat(paths['manifest']).st_mtime_ns != manifest_stamp

    # Fewer images: the stale ones must go, or mmseg's folder scan finds them.
    make_toy_cityscapes(out, **{**ARGS, 'num_train': 2})
    assert len(_pairs(out, 'train')) == 2
    assert not osp.exists(img_path) and not osp.exists(seg_path)
    with open(paths['manifest']) as f:
        assert json.load(f)['params']['num_train'] == 2


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='img_size'):
        make_toy_cityscapes(str(tmp_path), img_size=(128, 32))
    with pytest.raises(ValueError, match='num_val'):
        make_toy_cityscapes(str(tmp_path), num_val=-2)


def _seg_dataset(city, pipeline):
    from cankd.registry import DATASETS
    return DATASETS.build(dict(
        type='ToyCityscapesDataset', data_root=city['data_root'],
        data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
        pipeline=pipeline))


def _miou(dataset, samples):
    from mmseg.evaluation import IoUMetric
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dataset.metainfo
    metric.process({}, samples)
    return metric.evaluate(len(samples))['mIoU']


def test_mmseg_pipeline_and_iou_metric(city):
    # Transforms named as in an mmseg config resolve to mmseg's even though
    # the dataset is built from the cankd registry.
    dataset = _seg_dataset(city, [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                                  dict(type='PackSegInputs')])
    assert isinstance(dataset, ToyCityscapesDataset)
    assert type(dataset.pipeline.transforms[1]).__module__.startswith('mmseg.')
    assert dataset.metainfo['classes'] == TOY_CITYSCAPES_CLASSES
    assert len(dataset) == 2
    perfect, constant = [], []
    for i in range(len(dataset)):
        sample = dataset[i]
        gt = sample['data_samples'].gt_sem_seg.data
        assert tuple(sample['inputs'].shape) == (3, H, W) and tuple(gt.shape) == (1, H, W)
        np.testing.assert_array_equal(gt[0].numpy(), _label(sample['data_samples'].seg_map_path))
        perfect.append(dict(pred_sem_seg=dict(data=gt.clone()), gt_sem_seg=dict(data=gt)))
        constant.append(dict(pred_sem_seg=dict(data=torch.zeros_like(gt)),
                             gt_sem_seg=dict(data=gt)))
    assert _miou(dataset, perfect) == pytest.approx(100.0)
    assert _miou(dataset, constant) < 50.0
