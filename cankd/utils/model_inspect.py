"""Offline model inspection shared by the analysis tools.

``tools/analysis_tools/print_module_names.py``, ``get_flops.py`` and
``tools/visualizations/feature_visualization.py`` build the models of a config
without fetching any weights (``teacher_ckpt=None``, ``pretrained=False``,
``init_weights`` never called), run them on a batch, and describe what each
submodule returned. Nothing here touches the network.
"""
import copy
import math
import os.path as osp
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope
from torch import nn

__all__ = [
    'check_file', 'load_config', 'register_all', 'is_distill_config', 'build_offline',
    'dummy_batch', 'describe', 'trace_module_outputs', 'count_params', 'count_flops',
    'default_input_shape', 'get_test_pipeline', 'ModelInfo'
]


def check_file(path: str, what: str) -> str:
    """``path`` if it is a file, else ``SystemExit`` naming ``what`` and the path."""
    if not osp.isfile(path):
        raise SystemExit(f'{what} not found: {path}')
    return path


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """The config at ``path`` with ``cfg_options`` merged; it must have a ``model``."""
    check_file(path, 'config file')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('model') is None:
        raise SystemExit(f'{path} has no `model`: nothing to inspect')
    return cfg


def register_all() -> None:
    """Fill the mmdet, mmseg and cankd registries (as tools/train.py does)."""
    from mmdet.utils import register_all_modules as register_mmdet
    from mmseg.utils import register_all_modules as register_mmseg

    from .setup_env import register_all_modules
    register_mmdet(init_default_scope=False)
    register_mmseg(init_default_scope=False)
    register_all_modules(init_default_scope=False)


def is_distill_config(model_cfg: dict) -> bool:
    """A distillation algorithm (student + teacher + distiller), not a plain model."""
    return all(key in model_cfg for key in ('architecture', 'teacher', 'distiller'))


class ModelInfo:
    """What :func:`build_offline` built.

    Attributes:
        model: the algorithm (distillation config) or the plain model.
        distill: whether ``model`` is a distillation algorithm.
        notes: what was changed to build offline (shown to the user).
        scope: the config's ``default_scope`` (pipelines are built in it).
    """

    def __init__(self, model: nn.Module, distill: bool, notes: List[str], scope: str) -> None:
        self.model = model
        self.distill = distill
        self.notes = notes
        self.scope = scope

    @property
    def student(self) -> nn.Module:
        return self.model.student if self.distill else self.model

    @property
    def teacher(self) -> Optional[nn.Module]:
        return self.model.teacher if self.distill else None


def build_offline(cfg: Config) -> ModelInfo:
    """Build ``cfg.model`` without loading or downloading any weights.

    A distillation config gets ``teacher_ckpt=None`` and ``pretrained=False``
    for the student and teacher ``cfg_path``; ``init_weights`` is never
    called, so ``init_cfg=Pretrained`` entries are not read either. All
    weights are random unless the caller loads a checkpoint.
    """
    from cankd.models.algorithms.build import build_submodel

    model_cfg = copy.deepcopy(cfg.model)
    scope = cfg.get('default_scope', None) or 'mmdet'
    notes = []
    distill = is_distill_config(model_cfg)
    if distill:
        ckpt = model_cfg.get('teacher_ckpt')
        if ckpt:
            notes.append(f'teacher_ckpt={ckpt} not loaded (built with teacher_ckpt=None)')
        model_cfg['teacher_ckpt'] = None
        for key in ('architecture', 'teacher'):
            sub = model_cfg[key]
            if isinstance(sub, (dict, ConfigDict)) and sub.get('pretrained'):
                sub['pretrained'] = False
                notes.append(f'{key}: pretrained=True ignored (no model-zoo download)')
    elif isinstance(model_cfg.get('teachers'), (dict, ConfigDict)):
        # MultiTeacherDistill: no teacher checkpoint either (shown as a whole model)
        for name, entry in model_cfg['teachers'].items():
            if not isinstance(entry, (dict, ConfigDict)):
                continue
            if entry.get('ckpt'):
                notes.append(f'teachers.{name}.ckpt={entry["ckpt"]} not loaded')
            entry['ckpt'] = None
            sub = entry.get('model')
            if isinstance(sub, (dict, ConfigDict)) and sub.get('pretrained'):
                sub['pretrained'] = False
    notes.append('weights are random (init_weights not called): shapes, parameter counts '
                 'and FLOPs do not depend on them')
    type_name = model_cfg.get('type')
    if '_scope_' not in model_cfg and isinstance(type_name, str) and '.' not in type_name:
        model_cfg['_scope_'] = scope
    with DefaultScope.overwrite_default_scope(scope):
        model = build_submodel(model_cfg)
    model.eval()
    return ModelInfo(model, distill, notes, scope)


def _pad_divisor(model: nn.Module) -> int:
    prep = getattr(model, 'data_preprocessor', None)
    for attr in ('pad_size_divisor', 'size_divisor'):
        value = getattr(prep, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return 1


def _task(model: nn.Module) -> Optional[str]:
    module = type(model).__module__
    for task in ('mmdet', 'mmseg'):
        if module.startswith(task + '.'):
            return task
    return None


def dummy_batch(info: ModelInfo, shape: Sequence[int],
                batch_size: int = 1) -> Tuple[torch.Tensor, Optional[list]]:
    """A zeros batch (already normalised, as after the data preprocessor) and
    data samples carrying the image metadata that heads read.

    ``shape`` (H, W) is rounded up to the student's pad divisor, as the data
    preprocessor would pad it. The samples carry ground truth so that
    ``mode='loss'`` runs: no boxes for detection (``gt_instances`` empty, as an
    image without objects), class 0 everywhere for segmentation.
    """
    divisor = _pad_divisor(info.model)
    h, w = (int(math.ceil(s / divisor) * divisor) for s in shape)
    inputs = torch.zeros(batch_size, 3, h, w)
    meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
                batch_input_shape=(h, w), scale_factor=(1.0, 1.0), img_id=0)
    task = _task(info.student)
    if task == 'mmdet':
        from mmdet.structures import DetDataSample
        from mmengine.structures import InstanceData
        samples = []
        for _ in range(batch_size):
            sample = DetDataSample(metainfo=meta)
            sample.gt_instances = InstanceData(bboxes=torch.zeros(0, 4),
                                               labels=torch.zeros(0, dtype=torch.long))
            samples.append(sample)
        return inputs, samples
    if task == 'mmseg':
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        samples = []
        for _ in range(batch_size):
            sample = SegDataSample(metainfo=meta)
            sample.gt_sem_seg = PixelData(data=torch.zeros(1, h, w, dtype=torch.long))
            samples.append(sample)
        return inputs, samples
    return inputs, None


def describe(obj: Any, max_items: int = 8) -> str:
    """Shapes of a module output: ``1x64x20x20``; tuples/lists as ``[a, b]``."""
    if isinstance(obj, torch.Tensor):
        return 'x'.join(str(s) for s in obj.shape) if obj.dim() else 'scalar'
    if isinstance(obj, (list, tuple)):
        items = [describe(o, max_items) for o in obj[:max_items]]
        if len(obj) > max_items:
            items.append(f'... {len(obj)} items')
        return '[' + ', '.join(items) + ']'
    if isinstance(obj, dict):
        return '{' + ', '.join(f'{k}: {describe(v, max_items)}' for k, v in obj.items()) + '}'
    if obj is None:
        return 'None'
    return type(obj).__name__


def trace_module_outputs(root: nn.Module, run: Callable[[], Any]) -> Dict[str, List[str]]:
    """Call ``run()`` with a forward hook on every submodule of ``root``;
    return, per module name, the description of each call's output (a
    module that ran three times, e.g. a head shared by the FPN levels, has
    three entries: record_idx 0..2). Modules that did not run are absent."""
    calls: Dict[str, List[str]] = {}
    handles = []

    def hook(name):
        return lambda module, args, output: calls.setdefault(name, []).append(describe(output))

    for name, module in root.named_modules():
        if name:
            handles.append(module.register_forward_hook(hook(name)))
    try:
        with torch.no_grad():
            run()
    finally:
        for handle in handles:
            handle.remove()
    return calls


def count_params(module: Optional[nn.Module]) -> Tuple[int, int]:
    """(all parameters, trainable parameters) of ``module``."""
    if module is None:
        return 0, 0
    params = list(module.parameters())
    return (sum(p.numel() for p in params),
            sum(p.numel() for p in params if p.requires_grad))


def count_flops(run: Callable[[], Any]) -> int:
    """FLOPs of ``run()`` as counted by ``torch.utils.flop_counter``: convolutions
    and matrix products, 2 FLOPs per multiply-add; element-wise ops, norms and
    pooling are not counted."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        run()
    return int(counter.get_total_flops())


def get_test_pipeline(cfg: Config) -> Optional[list]:
    """The test transforms of ``cfg`` (``test_dataloader.dataset.pipeline``,
    else ``test_pipeline``), or None."""
    loader = cfg.get('test_dataloader') or {}
    dataset = loader.get('dataset') or {}
    while isinstance(dataset, dict) and 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset['dataset']  # wrappers such as RepeatDataset
    pipeline = dataset.get('pipeline') if isinstance(dataset, dict) else None
    return copy.deepcopy(pipeline or cfg.get('test_pipeline'))


# An mmdet test pipeline's Resize (1333, 800) is the usual; keep ``--shape`` cheap otherwise.
_FALLBACK_SHAPE = (512, 512)


def default_input_shape(cfg: Config) -> Tuple[Tuple[int, int], str]:
    """(H, W) of the test pipeline's ``Resize`` scale and where it came from;
    (512, 512) when the pipeline has no fixed scale."""
    for transform in get_test_pipeline(cfg) or []:
        scale = transform.get('scale') if isinstance(transform, dict) else None
        if str(transform.get('type', '')).endswith('Resize') and isinstance(
                scale, (tuple, list)) and len(scale) == 2:
            return (int(scale[1]), int(scale[0])), f'test pipeline {transform["type"]} scale'
    return _FALLBACK_SHAPE, 'default; the test pipeline has no Resize scale'
