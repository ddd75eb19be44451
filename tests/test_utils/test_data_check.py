"""Nothing silent about data (issue 17, item 9): an empty dataset is named with
its data_root and annotation file; a corrupt image is found before training by
``tools/train.py --check-data`` / ``tools/misc/check_data.py``."""
import importlib.util
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from cankd.utils.data_check import (DatasetError, build_dataset_checked, check_data,
                                    check_data_or_exit)
from cankd.utils.progress import ProgressLine

TOOLS = Path(__file__).resolve().parents[2] / 'tools'


@pytest.fixture
def coco_copy(tiny_coco, tmp_path):
    root = tmp_path / 'coco'
    shutil.copytree(tiny_coco['data_root'], root)
    return root


def _config(base: str, root: Path, tmp_path: Path, **ann) -> str:
    """``base`` with its train/val datasets pointed at ``root``."""
    lines = [f'_base_ = {base!r}']
    for split in ('train', 'val'):
        extra = f', ann_file={ann[split]!r}' if split in ann else ''
        lines.append(f'{split}_dataloader = dict(dataset=dict(data_root={str(root)!r}{extra}))')
    path = tmp_path / 'cfg.py'
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def _coco_cfg(root: Path, ann_file: str, **extra) -> dict:
    from mmengine.registry import init_default_scope
    from cankd.utils.model_inspect import register_all
    register_all()
    init_default_scope('mmdet')
    return dict(type='CocoDataset', data_root=str(root), ann_file=ann_file,
                data_prefix=dict(img='train/'), pipeline=[], **extra)


def test_coco_file_without_images_is_named(coco_copy):
    ann = json.loads((coco_copy / 'annotations/instances_train.json').read_text())
    (coco_copy / 'annotations/empty.json').write_text(
        json.dumps(dict(ann, images=[], annotations=[])))
    # today: mmdet's CocoDataset fails with "need at least one array to concatenate"
    with pytest.raises(DatasetError) as info:
        build_dataset_checked(_coco_cfg(coco_copy, 'annotations/empty.json'), 'train')
    message = str(info.value)
    assert message.startswith('train dataset CocoDataset (')
    assert f"data_root={str(coco_copy)!r}" in message
    assert "ann_file='annotations/empty.json'" in message
    assert 'lists no images (a COCO file needs a non-empty "images" list)' in message


def test_zero_byte_and_missing_annotation_files_are_named(coco_copy):
    (coco_copy / 'annotations/zero.json').write_bytes(b'')
    with pytest.raises(DatasetError, match=r'annotation file .*zero\.json is empty \(0 bytes\)'):
        build_dataset_checked(_coco_cfg(coco_copy, 'annotations/zero.json'), 'val')
    with pytest.raises(DatasetError, match=r'val dataset CocoDataset .*nothere\.json does not '
                                           r'exist'):
        build_dataset_checked(_coco_cfg(coco_copy, 'annotations/nothere.json'), 'val')


def test_dataset_with_no_samples_is_named(coco_copy, tiny_cityscapes, tmp_path):
    # every image filtered out: a train loader would wait forever on an infinite sampler
    ann = json.loads((coco_copy / 'annotations/instances_train.json').read_text())
    (coco_copy / 'annotations/no_boxes.json').write_text(json.dumps(dict(ann, annotations=[])))
    cfg = _coco_cfg(coco_copy, 'annotations/no_boxes.json',
                    filter_cfg=dict(filter_empty_gt=True))
    with pytest.raises(DatasetError, match=r'is empty \(0 samples\): .*filter_empty_gt=True '
                                           r'drops images without annotations'):
        build_dataset_checked(cfg, 'train')
    # a segmentation dataset whose image folder is empty
    (tmp_path / 'city' / 'leftImg8bit' / 'train').mkdir(parents=True)
    (tmp_path / 'city' / 'gtFine' / 'train').mkdir(parents=True)
    seg = dict(type='cankd.ToyCityscapesDataset', data_root=str(tmp_path / 'city'),
               data_prefix=dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
               pipeline=[])
    with pytest.raises(DatasetError) as info:
        build_dataset_checked(seg, 'train')
    assert 'train dataset cankd.ToyCityscapesDataset (data_root=' in str(info.value)
    assert "'img_path': 'leftImg8bit/train'" in str(info.value)
    assert 'is empty (0 samples)' in str(info.value)


def _corrupt(root: Path):
    """A truncated PNG and a file of garbage in train/; returns their paths."""
    images = sorted((root / 'train').glob('*.png'))
    truncated, garbage = images[0], images[1]
    truncated.write_bytes(truncated.read_bytes()[:200])
    garbage.write_bytes(b'this is not an image' * 10)
    return str(truncated), str(garbage)


def test_check_data_lists_bad_files_with_reasons(coco_copy, tiny_retinanet_config, tmp_path):
    truncated, garbage = _corrupt(coco_copy)
    cfg = Config.fromfile(_config(tiny_retinanet_config, coco_copy, tmp_path))
    out = io.StringIO()
    results = check_data(cfg, stream=out)
    assert set(results) == {'train', 'val'} and results['val'] == []
    reasons = {bad.path: bad.reason for bad in results['train']}
    assert reasons == {truncated: 'truncated PNG (no IEND chunk)',
                       garbage: 'cannot be decoded (not an image, or corrupt)'}
    assert 'checking train data [' in out.getvalue() and '4 files, 2 bad' in out.getvalue()
    out = io.StringIO()
    with pytest.raises(SystemExit) as info:
        check_data_or_exit(cfg, stream=out)
    assert info.value.code == 1
    assert f'{truncated}: truncated PNG (no IEND chunk) (train)' in out.getvalue()
    assert 'data check: 2 bad file(s)' in out.getvalue()


def test_train_check_data_stops_before_training(coco_copy, tiny_retinanet_config, tmp_path,
                                                capsys):
    spec = importlib.util.spec_from_file_location('cankd_tools_train_dc', TOOLS / 'train.py')
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    cfg = _config(tiny_retinanet_config, coco_copy, tmp_path)
    work_dir = tmp_path / 'w'
    _corrupt(coco_copy)
    with pytest.raises(SystemExit) as info:
        train.main([cfg, '--check-data', '--work-dir', str(work_dir)])
    assert info.value.code == 1 and 'data check: 2 bad file(s)' in capsys.readouterr().out
    assert not work_dir.exists()  # no runner was built
    # an empty train dataset stops train.py (even without --check-data), named
    ann = json.loads((coco_copy / 'annotations/instances_train.json').read_text())
    (coco_copy / 'annotations/empty.json').write_text(
        json.dumps(dict(ann, images=[], annotations=[])))
    cfg = _config(tiny_retinanet_config, coco_copy, tmp_path, train='annotations/empty.json')
    with pytest.raises(SystemExit, match=r"error: train dataset CocoDataset \(.*"
                                         r"ann_file='annotations/empty.json'.*lists no images"):
        train.main([cfg, '--work-dir', str(work_dir)])


@pytest.mark.slow
def test_check_data_tool(coco_copy, tiny_retinanet_config, tmp_path):
    truncated, garbage = _corrupt(coco_copy)
    cfg = _config(tiny_retinanet_config, coco_copy, tmp_path)
    proc = subprocess.run([sys.executable, str(TOOLS / 'misc/check_data.py'), cfg],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f'{truncated}: truncated PNG' in proc.stdout and f'{garbage}: cannot be decoded' \
        in proc.stdout
    # progress in a log (not a terminal): whole lines, no carriage returns
    assert '\r' not in proc.stdout


def test_progress_line_tty_and_log():
    log = io.StringIO()
    bar = ProgressLine(1000, 'step', stream=log, interactive=False, log_interval=3600)
    for i in range(1000):
        bar.update(status=f'loss {i}')
    bar.close()
    lines = log.getvalue().splitlines()
    assert 10 <= len(lines) <= 12 and '\r' not in log.getvalue()  # every tenth, not 1000
    assert lines[-1].startswith('step [####################] 1000/1000')
    tty = io.StringIO()
    bar = ProgressLine(3, 'step', stream=tty, interactive=True)
    bar.update(status='a')
    bar.message('note')
    bar.close()
    assert tty.getvalue().startswith('\rstep [') and 'note\n' in tty.getvalue()
    assert tty.getvalue().endswith('\n')
