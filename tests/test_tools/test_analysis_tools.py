"""print_module_names.py, get_flops.py and feature_visualization.py on the
quickstart configs (detection and segmentation), run in-process via main(argv)."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[2]
DET_CFG = str(REPO / 'configs/quickstart/cankd_retinanet_r18-r18w16_toy-coco.py')
SEG_CFG = str(REPO / 'configs/quickstart/cankd_fcn_r18w32-r18w8_toy-cityscapes.py')
PLAIN_CFG = str(REPO / 'configs/quickstart/retinanet_r18_toy-coco.py')


def _load(relpath: str):
    path = REPO / 'tools' / relpath
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def names_tool():
    return _load('analysis_tools/print_module_names.py')


@pytest.fixture(scope='module')
def flops_tool():
    return _load('analysis_tools/get_flops.py')


@pytest.fixture(scope='module')
def vis_tool():
    return _load('visualizations/feature_visualization.py')


def _build(cfg_path: str):
    from cankd.utils.model_inspect import build_offline, load_config, register_all
    register_all()
    return build_offline(load_config(cfg_path))


@pytest.fixture(scope='module')
def det_assets(tmp_path_factory):
    """A distillation checkpoint of the det quickstart config (random weights,
    teacher_ckpt=None) and one toy COCO image."""
    from cankd.datasets import make_toy_coco
    root = tmp_path_factory.mktemp('det_vis')
    model = _build(DET_CFG).model
    ckpt = root / 'kd.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    paths = make_toy_coco(str(root / 'data'), num_train=1, num_val=1)
    image = next(Path(paths['val_img_dir']).glob('*.png'))
    return dict(ckpt=str(ckpt), image=str(image), state=model.state_dict(), root=root)


@pytest.fixture(scope='module')
def seg_assets(tmp_path_factory):
    from cankd.datasets import make_toy_cityscapes
    root = tmp_path_factory.mktemp('seg_vis')
    model = _build(SEG_CFG).model
    ckpt = root / 'kd.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    paths = make_toy_cityscapes(str(root / 'data'), num_train=1, num_val=1, img_size=(128, 64))
    image = next(Path(paths['val_img_dir']).rglob('*.png'))
    return dict(ckpt=str(ckpt), image=str(image), state=model.state_dict(), root=root)


def _line(out: str, section: str, name: str) -> str:
    """The table line of module ``name`` in section ``== student``/``== teacher``."""
    block = out.split(f'== {section}')[1].split('\n== ')[0]
    for line in block.splitlines():
        if line.strip().split(' ')[0] == name:
            return line
    raise AssertionError(f'{name} not listed under {section}:\n{block}')


# --- print_module_names ------------------------------------------------------------
def test_names_det_lists_neck_and_layer4_with_shapes(names_tool, capsys):
    # 150 is padded to 160 (pad_size_divisor 32): FPN strides 8/16/32 -> 20/10/5.
    names_tool.main([DET_CFG, '--shape', '150', '150'])
    out = capsys.readouterr().out
    assert 'teacher_ckpt=work_dirs/quickstart/det/teacher' in out and 'not loaded' in out
    assert '1x3x160x160' in out
    for side, ch in (('student', 32), ('teacher', 64)):  # the student's FPN is narrower
        neck = _line(out, side, 'neck')
        assert f'[1x{ch}x20x20, 1x{ch}x10x10, 1x{ch}x5x5]' in neck, neck
        assert '<- recorder fpn' in neck
    # student ResNet-18 at base width 16 -> layer4 has 8 * 16 channels; teacher 8 * 64
    assert '1x128x5x5' in _line(out, 'student', 'backbone.layer4')
    assert '1x512x5x5' in _line(out, 'teacher', 'backbone.layer4')
    assert 'backbone.layer4.0' not in out  # default depth 2


def test_names_show_what_runs_in_training(names_tool, capsys):
    names_tool.main([DET_CFG, '--shape', '64', '64', '--prefix', 'bbox_head', '--depth', '1'])
    out = capsys.readouterr().out
    # The student's head is shared by the 3 FPN levels: 3 calls (record_idx 0..2) ...
    assert '3 calls: 1x30x8x8 | 1x30x4x4 | 1x30x2x2' in _line(out, 'student',
                                                             'bbox_head.retina_cls')
    # ... the FpnTeacherDistill teacher runs backbone + neck only: no hook fires in its head.
    assert _line(out, 'teacher', 'bbox_head.retina_cls').split()[-1] == '-'
    assert _line(out, 'teacher', 'bbox_head.cls_convs').split()[-1] == '(container)'
    assert 'backbone' not in out.split('== student')[1]


def test_names_seg_teacher_only_depth_and_prefix(names_tool, capsys):
    names_tool.main([SEG_CFG, '--teacher', '--shape', '64', '128', '--depth', '1',
                     '--prefix', 'backbone.layer4'])
    out = capsys.readouterr().out
    assert '== student' not in out and '== teacher' in out
    # dilated ResNetV1c, output stride 8; teacher base width 32 -> layer4 has 256 channels
    assert '1x256x8x16' in _line(out, 'teacher', 'backbone.layer4')
    assert 'backbone.layer4.1' in out and 'backbone.layer4.1.conv1' not in out
    assert 'backbone.layer3' not in out


def test_names_student_falls_back_to_tensor_mode(names_tool, capsys):
    # Without train_cfg the student's loss cannot assign targets; the names and
    # shapes still come, from mode='tensor', and the output says why.
    names_tool.main([DET_CFG, '--student', '--depth', '1', '--shape', '64', '64',
                     '--cfg-options', 'model.architecture.train_cfg=None'])
    out = capsys.readouterr().out
    assert "mode='tensor' (mode='loss' failed: " in out
    assert '[1x32x8x8, 1x32x4x4, 1x32x2x2]' in _line(out, 'student', 'neck')
    assert '== teacher' not in out


def test_names_plain_config_and_no_shapes(names_tool, capsys):
    names_tool.main([PLAIN_CFG, '--no-shapes', '--depth', '1'])
    out = capsys.readouterr().out
    assert '== model: RetinaNet (mmdet)' in out
    assert _line(out, 'model', 'neck').split()[1] == 'FPN'
    assert 'x' not in _line(out, 'model', 'neck').split('FPN')[1]  # no shapes


# --- get_flops ---------------------------------------------------------------------
def _conv_flops(model: nn.Module, run) -> int:
    """2 x multiply-adds of every Conv2d call, counted from its output (independent
    of torch.utils.flop_counter)."""
    total = [0]

    def hook(module, args, out):
        k = module.kernel_size[0] * module.kernel_size[1]
        total[0] += 2 * out.numel() * module.in_channels // module.groups * k

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        run()
    for h in handles:
        h.remove()
    return total[0]


def test_flops_seg_params_partition_and_conv_count(flops_tool, capsys):
    result = flops_tool.main([SEG_CFG, '--shape', '64', '128'])
    out = capsys.readouterr().out
    for part in ('teacher', 'student', 'distiller (connectors + losses)',
                 'connectors.lift (ConvModuleConnector)', 'distill_losses.loss_cankd (CanKDLoss)'):
        assert part in out
    rows = {r[0].strip(): r for r in result['rows']}
    info = _build(SEG_CFG)
    algo = info.model
    # teacher + student + distiller = every parameter of the algorithm; the teacher is frozen
    assert rows['teacher'][1] + rows['student'][1] + rows['distiller (connectors + losses)'][1] \
        == sum(p.numel() for p in algo.parameters())
    assert rows['teacher'][2] == 0
    assert rows['student'][1] == sum(p.numel() for p in algo.student.parameters())
    # the FCN student is convolutions only: the flop counter must agree with a conv count
    inputs = torch.zeros(1, 3, 64, 128)
    assert rows['student'][3] == _conv_flops(
        algo.student, lambda: algo.student(inputs, None, mode='tensor'))
    assert result['problems'] == []


def test_flops_det_default_shape_and_teacher_full_forward(flops_tool, capsys):
    result = flops_tool.main([DET_CFG])  # the toy test pipeline resizes to 160 x 160
    out = capsys.readouterr().out
    assert result['input_shape'] == (1, 3, 160, 160)
    assert 'test pipeline Resize scale 160x160' in out
    rows = {r[0].strip(): r for r in result['rows']}
    full = rows["full forward (mode='tensor')"][3]
    assert 0 < rows['teacher'][3] < full  # FpnTeacherDistill skips the head in training
    assert rows['distiller (connectors + losses)'][3] > 0
    assert sum(1 for name in rows if name.startswith('distill_losses.loss_cankd_fpn')) == 3


# --- feature_visualization ---------------------------------------------------------
def _png_size(path: Path):
    data = path.read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    return int.from_bytes(data[16:20], 'big'), int.from_bytes(data[20:24], 'big')


def test_vis_det_writes_png_one_row_per_mapping(vis_tool, det_assets, tmp_path, capsys):
    out_png = tmp_path / 'sub' / 'det.png'
    rows = vis_tool.main([DET_CFG, det_assets['ckpt'], det_assets['image'],
                          '--out', str(out_png)])
    assert [r['name'] for r in rows] == [f'loss_cankd_fpn{i}' for i in range(3)]
    # toy COCO images are 160 x 160: FPN maps 20, 10, 5 on each side
    assert [tuple(r['maps'][0].shape) for r in rows] == [(20, 20), (10, 10), (5, 5)]
    width, height = _png_size(out_png)
    assert width > 0 and height > 0
    assert not [p for p in out_png.parent.iterdir() if p.name.startswith('.tmp-')]
    assert f'wrote {out_png}' in capsys.readouterr().out


def test_vis_seg_connector_and_loaded_teacher(vis_tool, seg_assets, tmp_path):
    # Zero the teacher in the checkpoint: if the tool loads it, the teacher's
    # layer4 (BasicBlock: relu(0 + identity path of zeros)) is all zeros.
    state = {k: (torch.zeros_like(v) if k.startswith('teacher.') and v.is_floating_point()
                 else v) for k, v in seg_assets['state'].items()}
    ckpt = tmp_path / 'zero_teacher.pth'
    torch.save({'state_dict': state, 'meta': {}}, ckpt)
    out_png = tmp_path / 'seg.png'
    rows = vis_tool.main([SEG_CFG, str(ckpt), seg_assets['image'], '--out', str(out_png),
                          '--reduce', 'l2', '--recorders', 'bb'])
    assert len(rows) == 1
    teacher_map, student_map, diff = rows[0]['maps']
    assert teacher_map.shape == (8, 16)  # 128 x 64 image, output stride 8
    assert torch.count_nonzero(teacher_map) == 0
    assert rows[0]['titles'][1].startswith('student bb -> lift\n256x8x16')  # after connector
    # with T == 0, |T - S| (L2 over channels) is the student's own L2 map
    torch.testing.assert_close(diff, student_map)
    assert _png_size(out_png)[0] > 0


def test_vis_teacher_from_separate_checkpoint(vis_tool, seg_assets, tmp_path):
    student_only = {k: v for k, v in seg_assets['state'].items() if not k.startswith('teacher.')}
    ckpt = tmp_path / 'no_teacher.pth'
    torch.save({'state_dict': student_only, 'meta': {}}, ckpt)
    out_png = str(tmp_path / 'x.png')
    with pytest.raises(SystemExit, match='--teacher-ckpt'):
        vis_tool.main([SEG_CFG, str(ckpt), seg_assets['image'], '--out', out_png])
    teacher = {k[len('teacher.'):]: v for k, v in seg_assets['state'].items()
               if k.startswith('teacher.')}
    teacher_ckpt = tmp_path / 'teacher.pth'
    torch.save({'state_dict': teacher, 'meta': {}}, teacher_ckpt)
    rows = vis_tool.main([SEG_CFG, str(ckpt), seg_assets['image'], '--out', out_png,
                          '--teacher-ckpt', str(teacher_ckpt)])
    assert len(rows) == 1 and os.path.isfile(out_png)


def test_vis_bad_inputs_are_named(vis_tool, seg_assets, det_assets, tmp_path):
    args = [SEG_CFG, seg_assets['ckpt'], seg_assets['image']]
    with pytest.raises(SystemExit, match='checkpoint not found: .*nope.pth'):
        vis_tool.main([SEG_CFG, str(tmp_path / 'nope.pth'), seg_assets['image']])
    with pytest.raises(SystemExit, match='image not found: .*nope.png'):
        vis_tool.main([SEG_CFG, seg_assets['ckpt'], str(tmp_path / 'nope.png')])
    with pytest.raises(SystemExit, match="--recorders: no recorder \\['fpn'\\].*valid: \\['bb'\\]"):
        vis_tool.main(args + ['--recorders', 'fpn', '--out', str(tmp_path / 'a.png')])
    with pytest.raises(SystemExit, match='not a distillation checkpoint'):
        vis_tool.main([SEG_CFG, str(_plain_ckpt(tmp_path)), seg_assets['image'],
                       '--out', str(tmp_path / 'b.png')])
    with pytest.raises(SystemExit, match='does not match the config'):
        vis_tool.main([SEG_CFG, det_assets['ckpt'], seg_assets['image'],
                       '--out', str(tmp_path / 'c.png')])
    with pytest.raises(SystemExit, match='not a distillation config'):
        vis_tool.main([PLAIN_CFG, seg_assets['ckpt'], seg_assets['image'],
                       '--out', str(tmp_path / 'd.png')])


def _plain_ckpt(tmp_path: Path) -> Path:
    path = tmp_path / 'plain.pth'
    torch.save({'state_dict': {'backbone.conv1.weight': torch.zeros(1)}, 'meta': {}}, path)
    return path


@pytest.mark.parametrize('tool', ['names', 'flops', 'vis'])
def test_missing_config_is_named(tool, names_tool, flops_tool, vis_tool, tmp_path):
    missing = str(tmp_path / 'no_such_config.py')
    module = dict(names=names_tool, flops=flops_tool, vis=vis_tool)[tool]
    argv = [missing] + (['a.pth', 'b.png'] if tool == 'vis' else [])
    with pytest.raises(SystemExit, match=f'config file not found: {missing}'):
        module.main(argv)


def test_cli_exit_status_and_message(tmp_path):
    """From the shell: exit status 1 and the path on stderr, before any model is built."""
    missing = str(tmp_path / 'missing.py')
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools/analysis_tools/print_module_names.py'), missing],
        capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS='1'), timeout=300)
    assert proc.returncode == 1
    assert f'config file not found: {missing}' in proc.stderr
