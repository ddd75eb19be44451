import copy
import os.path as osp
from typing import Union

from mmengine.config import Config, ConfigDict
from mmengine.hub import get_config
from mmengine.registry import DefaultScope
from torch import nn

from cankd.registry import MODELS
from cankd.utils.package_config import resolve_package_cfg_path

_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
# Where a type without a scope is looked for, in this order.
_TASK_SCOPES = ('mmdet', 'mmseg')


def _infer_scope(type_name: str) -> str:
    """The registry scope that knows ``type_name`` (cankd first)."""
    if MODELS.get(type_name) is not None:
        return 'cankd'
    import importlib
    found = []
    for scope in _TASK_SCOPES:
        try:
            registry = importlib.import_module(f'{scope}.registry').MODELS
        except ImportError:
            continue
        if registry.get(type_name) is not None:
            found.append(scope)
    if not found:
        raise ValueError(f'model type {type_name!r} is not registered in cankd, mmdet or '
                       'mmseg; check the spelling or give "_scope_"')
    current = DefaultScope.get_current_instance()
    if current is not None and current.scope_name in found:
        return current.scope_name
    return found[0]


def check_cfg_path(cfg_path: str) -> None:
    """Fail, naming ``cfg_path`` (and for a package config the closest
    configs the package ships), when it names no config file; cheap, builds
    nothing. Called for the teacher and the student before either is built,
    so a missing teacher config is reported before the student's own errors."""
    if '::' not in cfg_path:
        if not (osp.isfile(cfg_path) or osp.isfile(osp.join(_REPO_ROOT, cfg_path))):
            raise FileNotFoundError(f'cfg_path not found: {cfg_path} (looked in the working '
                                    f'directory and in {_REPO_ROOT})')
        return
    from mmengine.config.utils import _get_package_and_cfg_path
    from mmengine.utils import get_installed_path, is_installed

    from cankd.utils.package_config import find_legacy_config
    package, cfg_name = _get_package_and_cfg_path(cfg_path)
    if is_installed(package):
        package_path = get_installed_path(package)
        if osp.isfile(osp.join(package_path, '.mim', 'configs', cfg_name)) or \
                len(find_legacy_config(package_path, cfg_name)[0]) == 1:
            return  # exists, or an old name resolved (with its warning) when loaded
    resolve_package_cfg_path(cfg_path)  # raises, naming the path and the closest configs


def _load_model_config(cfg_path: str, pretrained: bool) -> Config:
    """``mmdet::...``-style package configs via mmengine.hub; other paths as
    files, relative to the working directory or to the cankd checkout."""
    if '::' in cfg_path:
        # mmdet 2.x / mmseg 0.x names (mmrazor's configs) -> the installed file
        resolved = resolve_package_cfg_path(cfg_path)
        cfg = get_config(resolved, pretrained=pretrained)
        if pretrained and 'model_path' not in cfg:
            raise ValueError(f'pretrained=True: {resolved} has no model-zoo checkpoint in '
                             f'the {resolved.partition("::")[0]} metafiles; set '
                             'pretrained=False and give the weights as teacher_ckpt or '
                             'init_cfg')
        return cfg
    path = cfg_path if osp.isfile(cfg_path) else osp.join(_REPO_ROOT, cfg_path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'cfg_path not found: {cfg_path} (looked in the working '
                                f'directory and in {_REPO_ROOT})')
    if pretrained:
        raise ValueError(f'pretrained=True needs a package config such as "mmdet::...", '
                         f'not {cfg_path}; give the checkpoint as teacher_ckpt instead')
    return Config.fromfile(path)


def build_submodel(cfg: Union[dict, ConfigDict, nn.Module]) -> nn.Module:
    """Build a teacher or student given inline or as ``cfg_path``.

    * ``dict(cfg_path='mmdet::retinanet/retinanet_r50_fpn_2x_coco.py',
      pretrained=False)``: the ``model`` of that config, built in that config's
      ``default_scope``; with ``pretrained=True`` its model-zoo checkpoint is
      loaded (mmengine.hub metafile lookup, as mmrazor does). Any other key
      overrides that model config, e.g. ``neck=dict(init_cfg=...)``.
    * an inline model dict: built in its ``_scope_``, or the scope of a
      ``'mmdet.RetinaNet'``-style type; without either, in the scope (cankd,
      mmdet or mmseg) whose registry knows its ``type``.
    """
    if isinstance(cfg, nn.Module):
        return cfg
    cfg = copy.deepcopy(cfg)
    if 'cfg_path' in cfg:
        cfg_path = cfg.pop('cfg_path')
        pretrained = cfg.pop('pretrained', False)
        sub_cfg = _load_model_config(cfg_path, pretrained)
        model_cfg = sub_cfg.model
        # Other keys override that model config (``_delete_`` works as in _base_).
        model_cfg = ConfigDict(Config._merge_a_into_b(dict(cfg), model_cfg.to_dict()))
        model_cfg.setdefault('_scope_', sub_cfg.get('default_scope', 'mmdet'))
        model = MODELS.build(model_cfg)
        if pretrained:
            from mmengine.runner import load_checkpoint
            load_checkpoint(model, sub_cfg.model_path, map_location='cpu')
            model._is_init = True
        return model
    type_name = cfg.get('type')
    if isinstance(type_name, str) and '_scope_' not in cfg:
        if '.' in type_name:
            # 'mmdet.RetinaNet' alone would build the detector in mmdet but its
            # submodules (data_preprocessor, ...) in the current scope.
            cfg['_scope_'], cfg['type'] = type_name.split('.', 1)
        else:
            cfg['_scope_'] = _infer_scope(type_name)
    return MODELS.build(cfg)
