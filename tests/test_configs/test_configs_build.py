"""Every shipped config builds its model (teacher, student, distiller) offline."""
import glob
import os.path as osp

import pytest

from cankd.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)


def test_configs_are_found():
    assert len(CONFIGS) >= 10


@pytest.mark.slow
@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds_without_downloads(path, load_config, tmp_path):
    cfg = load_config(path)
    model_cfg = cfg.model
    if 'grounding' in osp.basename(path):
        # mmdet's BertModel would download bert-base-uncased: a tiny local BERT
        pytest.importorskip('transformers', reason='Grounding DINO needs the optional '
                            '"grounding" extra (transformers): pip install -e .[grounding]')
        from cankd.testing.tiny_bert import use_tiny_bert, write_tiny_bert
        use_tiny_bert(model_cfg, write_tiny_bert(str(tmp_path)))
    is_multi = model_cfg.get('type') == 'MultiTeacherDistill'
    is_distill = is_multi or model_cfg.get('type') in ('FpnTeacherDistill',
                                                       'SingleTeacherDistill',
                                                       'CrossKDDistill')
    if is_multi:
        for teacher in model_cfg.teachers.values():
            teacher.ckpt = None  # building must never download
    elif is_distill:
        # Building never downloads (init_cfg weights load in init_weights(),
        # which this test does not call); the teacher checkpoint would.
        teacher_ckpt, model_cfg.teacher_ckpt = model_cfg.get('teacher_ckpt'), None
    if not is_distill:
        # a plain mmdet/mmseg config: its models live in its default scope
        model_cfg.setdefault('_scope_', cfg.default_scope)
    model = MODELS.build(model_cfg)
    if not is_distill:
        return
    assert model.distiller.distill_losses, path
    assert all('loss' in name for name in model.distiller.distill_losses)
    assert cfg.val_cfg.type == 'cankd.SingleTeacherDistillValLoop'
    if is_multi:
        return
    # Pretrained(prefix=...) from the teacher's checkpoint on the student must
    # name modules the teacher has (RTMDet-s's backbone prefix is ImageNet's).
    for name, module in model.student.named_children():
        init_cfg = getattr(module, 'init_cfg', None) or {}
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained' and \
                init_cfg.get('prefix') and init_cfg.get('checkpoint') == teacher_ckpt:
            teacher_part = model.teacher.get_submodule(init_cfg['prefix'].rstrip('.'))
            assert set(teacher_part.state_dict()) == set(module.state_dict()), name


@pytest.mark.parametrize('path', CONFIGS)
def test_iteration_based_configs_log_val_metrics_by_iteration(path, load_config):
    """With an IterBasedTrainLoop, mmengine's LoggerHook logs val metrics at
    step = epoch (always 0) unless log_metric_by_epoch=False: every point of
    a validation curve (the quickstart's val_curve.png) would land on step 0."""
    cfg = load_config(path)
    if cfg.get('train_cfg', {}).get('type') != 'IterBasedTrainLoop':
        pytest.skip('epoch-based')
    logger = cfg.default_hooks.logger
    assert logger.get('log_metric_by_epoch') is False, (
        f'{path}: default_hooks.logger needs log_metric_by_epoch=False')
