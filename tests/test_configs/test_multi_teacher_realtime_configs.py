"""The two-teacher and real-time (RTMDet, YOLOX) configs: what makes each what
it is, read from the parsed config (test_configs_build.py builds them)."""
import pytest

MULTI_DET = 'configs/multi_teacher/cankd_retinanet-x101_fcos-x101_retinanet-r50_fpn_2xb2-2x_coco.py'
MULTI_SEG = ('configs/multi_teacher/'
             'cankd_deeplabv3-r101_pspnet-r101_deeplabv3-r18_4xb2-80k_cityscapes-512x1024.py')
RT = 'configs/realtime/{}_{}.py'
RTMDET, YOLOX = 'rtmdet_l-s_8xb32-300e_coco', 'yolox_l-s_8xb8-300e_coco'


def _teacher_reads(distiller):
    return {name: {spec['teacher'] for spec in mapping.values() if not spec['from_student']}
            for name, mapping in distiller.loss_forward_mappings.items()}


@pytest.mark.parametrize('path, teachers, levels', [
    (MULTI_DET, {'retina': ('retinanet_x101-64x4d', '366f5af1'),
                 'fcos': ('fcos_x101-64x4d', 'ede514a8')}, 4),
    (MULTI_SEG, {'dlv3': ('deeplabv3_r101-d8', '9e428899'),
                 'psp': ('pspnet_r101-d8', 'e1e1100f')}, 1),
])
def test_two_teacher_configs(path, teachers, levels, load_config):
    cfg = load_config(path)
    model = cfg.model
    assert model.type == 'MultiTeacherDistill' and model.distiller.type == 'MultiTeacherDistiller'
    assert set(model.teachers) == set(teachers)
    for name, (arch, ckpt) in teachers.items():
        entry = model.teachers[name]
        assert arch in entry.model.cfg_path and ckpt in entry.ckpt
        assert entry.loss_weight == 0.5 and entry.fpn_only
    reads = _teacher_reads(model.distiller)
    assert len(reads) == levels * len(teachers)
    assert all(len(r) == 1 for r in reads.values())
    assert {t for r in reads.values() for t in r} == set(teachers)
    assert cfg.val_cfg.type == 'cankd.SingleTeacherDistillValLoop'


@pytest.mark.parametrize('method', ['cankd', 'pkd'])
@pytest.mark.parametrize('pair', [RTMDET, YOLOX])
def test_realtime_configs_keep_the_student_recipe(method, pair, load_config):
    cfg = load_config(RT.format(method, pair))
    family = pair.split('_')[0]
    student = load_config(f'configs/realtime/cankd_{pair}.py').model.architecture.cfg_path
    assert student.startswith(f'mmdet::{family}/{family}_s_')
    assert cfg.model.teacher.cfg_path.startswith(f'mmdet::{family}/{family}_l_')
    assert cfg.model.type == 'FpnTeacherDistill'
    distiller = cfg.model.distiller
    # 3 PAFPN levels: 128-ch student levels lifted to the teacher's 256
    assert len(distiller.connectors) == 3
    assert all((c.in_channel, c.out_channel) == (128, 256) for c in distiller.connectors.values())
    loss_type = 'CanKDLoss' if method == 'cankd' else 'PKDLoss'
    assert [loss.type for loss in distiller.distill_losses.values()] == [loss_type] * 3
    for mapping in distiller.loss_forward_mappings.values():
        s_spec = [s for s in mapping.values() if s.from_student][0]
        assert s_spec.connector.startswith('s_fpn')
    hooks = [h.type for h in cfg.custom_hooks]
    assert 'EMAHook' in hooks
    if family == 'rtmdet':
        assert 'PipelineSwitchHook' in hooks
    else:
        assert 'cankd.DistillYOLOXModeSwitchHook' in hooks and 'YOLOXModeSwitchHook' not in hooks
        assert 'SyncNormHook' in hooks
    # the student's own data pipeline (mosaic / mixup) is kept
    transforms = [t.type for t in cfg.train_dataloader.dataset.get('pipeline') or
                  cfg.train_dataloader.dataset.dataset.pipeline]
    assert any('Mosaic' in t for t in transforms) and any('MixUp' in t for t in transforms)
    assert cfg.val_cfg.type == 'cankd.SingleTeacherDistillValLoop'


@pytest.mark.slow
def test_offline_tools_build_two_teacher_configs_without_checkpoints(load_config):
    """print_module_names.py / get_flops.py build through build_offline: no download."""
    from cankd.utils.model_inspect import build_offline
    info = build_offline(load_config(MULTI_DET))
    assert type(info.model).__name__ == 'MultiTeacherDistill'
    assert sum('teachers.retina.ckpt=' in n or 'teachers.fcos.ckpt=' in n
               for n in info.notes) == 2
