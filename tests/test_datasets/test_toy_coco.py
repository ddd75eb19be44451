import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from cankd.datasets import TOY_COCO_CLASSES, TOY_COCO_METAINFO, make_toy_coco
from cankd.datasets import toy_coco

W, H = 96, 80  # not square: catches W/H mix-ups
ARGS = dict(num_train=5, num_val=3, img_size=(W, H), seed=3)


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('toy_coco'))
    return make_toy_coco(out, **ARGS)


def _load(path):
    with open(path) as f:
        return json.load(f)


def _bytes(path):
    with open(path, 'rb') as f:
        return f.read()


def _read_rgb(path):
    return cv2.imread(path, cv2.IMREAD_COLOR)[..., ::-1]


def _all_files(root):
    return sorted(osp.join(d, n) for d, _, names in os.walk(root) for n in names
                  if not n.startswith('.'))


def test_layout_and_counts(coco):
    assert set(coco) == {'data_root', 'train_img_dir', 'val_img_dir', 'train_ann_file',
                         'val_ann_file', 'manifest'}
    assert coco['train_ann_file'].endswith(osp.join('annotations', 'instances_train.json'))
    for split, n in (('train', 5), ('val', 3)):
        ann = _load(coco[f'{split}_ann_file'])
        assert [c['id'] for c in ann['categories']] == [1, 2, 3, 4, 5]
        assert tuple(c['name'] for c in ann['categories']) == TOY_COCO_CLASSES
        assert len(ann['images']) == n
        assert sorted(os.listdir(coco[f'{split}_img_dir'])) == [
            im['file_name'] for im in ann['images']]
        image_ids = {im['id'] for im in ann['images']}
        assert len(image_ids) == n and 0 not in image_ids
        assert all(im['width'] == W and im['height'] == H for im in ann['images'])
        ann_ids = [a['id'] for a in ann['annotations']]
        assert len(set(ann_ids)) == len(ann_ids)
        assert {a['image_id'] for a in ann['annotations']} == image_ids  # none empty
        for a in ann['annotations']:
            assert a['image_id'] in image_ids and 1 <= a['category_id'] <= 5
            assert a['iscrowd'] == 0 and a['area'] > 0
            x, y, w, h = a['bbox']
            assert x >= 0 and y >= 0 and w >= 1 and h >= 1 and x + w <= W and y + h <= H
            assert a['area'] <= w * h
    assert TOY_COCO_METAINFO['classes'] == TOY_COCO_CLASSES
    assert len(TOY_COCO_METAINFO['palette']) == len(TOY_COCO_CLASSES)


def test_boxes_are_tight_around_the_drawn_pixels(coco):
    ann = _load(coco['train_ann_file'])
    for im in ann['images']:
        i = im['id'] - 1
        img, specs = toy_coco.render_coco_scene(
            toy_coco._scene_rng(ARGS['seed'], 'train', i, salt=0), W, H)
        saved = _read_rgb(osp.join(coco['train_img_dir'], im['file_name']))
        np.testing.assert_array_equal(saved, img)  # the file is that picture
        anns = [a for a in ann['annotations'] if a['image_id'] == im['id']]
        assert [a['category_id'] - 1 for a in anns] == [s.label for s in specs]
        full = [toy_coco.shape_mask(s, W, H) for s in specs]
        for k, (a, spec) in enumerate(zip(anns, specs)):
            visible = full[k].copy()
            for later in full[k + 1:]:  # later objects are drawn on top
                visible &= ~later
            ys, xs = np.nonzero(visible)
            assert a['bbox'] == [xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                 ys.max() - ys.min() + 1]
            assert a['area'] == visible.sum() >= 0.55 * full[k].sum()
            # Those pixels really carry the object's colour (shading + noise aside).
            diff = np.abs(saved[visible].astype(float) - spec.color).mean()
            assert diff < 25, (im['file_name'], k, diff)


def test_deterministic_per_seed(coco, tmp_path):
    again = make_toy_coco(str(tmp_path / 'again'), **ARGS)
    other = make_toy_coco(str(tmp_path / 'other'), **{**ARGS, 'seed': 4})
    for key in ('train_ann_file', 'val_ann_file'):
        assert _bytes(coco[key]) == _bytes(again[key])
    assert _bytes(coco['train_ann_file']) != _bytes(other['train_ann_file'])
    name = '000000.png'
    first = _read_rgb(osp.join(coco['train_img_dir'], name))
    np.testing.assert_array_equal(first, _read_rgb(osp.join(again['train_img_dir'], name)))
    assert not np.array_equal(first, _read_rgb(osp.join(other['train_img_dir'], name)))
    # Picture i does not depend on how many pictures the split has.
    bigger = make_toy_coco(str(tmp_path / 'bigger'), **{**ARGS, 'num_train': 7})
    np.testing.assert_array_equal(first, _read_rgb(osp.join(bigger['train_img_dir'], name)))


def test_reuse_and_regeneration(tmp_path):
    out = str(tmp_path / 'd')
    paths = make_toy_coco(out, **ARGS)
    stamps = {p: os.stat(p).st_mtime_ns for p in _all_files(out)}
    assert make_toy_coco(out, **ARGS) == paths
    assert {p: os.stat(p).st_mtime_ns for p in _all_files(out)} == stamps  # reused untouched

    img = osp.join(paths['val_img_dir'], '000001.png')
    original = _bytes(img)
    os.remove(img)
    make_toy_coco(out, **ARGS)
    assert _bytes(img) == original
    assert os.stat(paths['manifest']).st_mtime_ns != stamps[paths['manifest']]

    os.remove(paths['manifest'])
    make_toy_coco(out, **ARGS)
    assert _load(paths['manifest'])['params']['num_train'] == 5

    # Other parameters: regenerated, our stale images removed, foreign files kept.
    with open(osp.join(paths['train_img_dir'], 'mine.png'), 'wb') as f:
        f.write(b'x')
    make_toy_coco(out, **{**ARGS, 'num_train': 2})
    assert sorted(os.listdir(paths['train_img_dir'])) == ['000000.png', '000001.png', 'mine.png']
    assert len(_load(paths['train_ann_file'])['images']) == 2


def test_interrupted_generation_is_redone(tmp_path, monkeypatch):
    out = str(tmp_path / 'd')
    real_write, calls = toy_coco._atomic_write, []

    def flaky_write(path, data):
        calls.append(path)
        if len(calls) == 4:
            raise KeyboardInterrupt
        real_write(path, data)

    monkeypatch.setattr(toy_coco, '_atomic_write', flaky_write)
    with pytest.raises(KeyboardInterrupt):
        make_toy_coco(out, **ARGS)
    monkeypatch.setattr(toy_coco, '_atomic_write', real_write)
    assert not osp.exists(osp.join(out, 'toy_coco_manifest.json'))
    assert not [n for n in os.listdir(osp.join(out, 'train')) if not n.endswith('.png')]

    # A temporary file a killed run left behind is cleaned up too.
    with open(osp.join(out, 'train', '.toy-killed.tmp'), 'wb') as f:
        f.write(b'half a png')
    paths = make_toy_coco(out, **ARGS)
    assert len(_load(paths['train_ann_file'])['images']) == 5
    assert len(os.listdir(paths['train_img_dir'])) == 5


@pytest.mark.parametrize('kwargs, name', [
    (dict(num_train=0), 'num_train'), (dict(num_val=1.5), 'num_val'),
    (dict(img_size=(16, 80)), 'img_size'), (dict(img_size=(96, )), 'img_size'),
    (dict(seed=-1), 'seed')])
def test_bad_arguments(tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_toy_coco(str(tmp_path), **{**ARGS, **kwargs})


def _det_dataset(coco):
    from mmcv.transforms import LoadImageFromFile
    from mmdet.datasets import CocoDataset
    from mmdet.datasets.transforms import LoadAnnotations, PackDetInputs
    return CocoDataset(
        data_root=coco['data_root'], ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'), metainfo=TOY_COCO_METAINFO,
        pipeline=[LoadImageFromFile(), LoadAnnotations(with_bbox=True), PackDetInputs()])


def _coco_map(coco, predictions):
    from mmdet.evaluation import CocoMetric
    metric = CocoMetric(ann_file=coco['train_ann_file'], metric='bbox')
    metric.dataset_meta = TOY_COCO_METAINFO
    metric.process({}, predictions)
    return metric.evaluate(len(predictions))['coco/bbox_mAP']


def test_mmdet_loads_it_and_coco_metric_scores_gt_as_perfect(coco):
    dataset = _det_dataset(coco)
    ann = _load(coco['train_ann_file'])
    assert len(dataset) == 5
    predictions = []
    for i in range(len(dataset)):
        sample = dataset[i]
        ds = sample['data_samples']
        assert tuple(sample['inputs'].shape) == (3, H, W)
        expected = [a for a in ann['annotations'] if a['image_id'] == ds.img_id]
        boxes = ds.gt_instances.bboxes.tensor
        assert len(boxes) == len(expected)
        np.testing.assert_array_equal(
            boxes.numpy(), [[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in expected)])
        np.testing.assert_array_equal(ds.gt_instances.labels.numpy(),
                                      [a['category_id'] - 1 for a in expected])
        predictions.append(dict(
            img_id=ds.img_id, ori_shape=ds.ori_shape,
            pred_instances=dict(bboxes=boxes.clone(), scores=torch.ones(len(boxes)),
                                labels=ds.gt_instances.labels.clone())))
    assert _coco_map(coco, predictions) == pytest.approx(1.0)
    # Control: boxes shifted by half their size are no longer correct.
    for p in predictions:
        b = p['pred_instances']['bboxes']
        b[:, [0, 2]] += (b[:, 2] - b[:, 0]).unsqueeze(1) / 2
    assert _coco_map(coco, predictions) < 0.5


def test_cli(tmp_path, capsys):
    import importlib.util
    script = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'misc', 'make_toy_data.py')
    spec = importlib.util.spec_from_file_location('make_toy_data', script)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    argv = ['coco', str(tmp_path), '--num-train', '2', '--num-val', '1', '--img-size', '64', '48',
            '--seed', '5']
    cli.main(argv)
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith('toy coco: 2 train / 1 val images (') and '64x48, seed 5' in summary
    assert 'generated in' in summary
    assert _load(osp.join(str(tmp_path), 'toy_coco_manifest.json'))['params']['seed'] == 5
    cli.main(argv)
    assert capsys.readouterr().out.strip().endswith('(reused)')
    with pytest.raises(SystemExit):
        cli.main(['coco', str(tmp_path), '--num-train', '0'])
    assert 'num_train must be a positive int' in capsys.readouterr().err
