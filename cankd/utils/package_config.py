"""mmdet 2.x / mmseg 0.x config names in ``mmdet::``/``mmseg::`` paths.

mmrazor's configs still name some package configs the way mmdet 2.x and
mmseg 0.x did (``mmdet::faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py``; mmdet 3
renamed it ``faster-rcnn_r50_fpn_1x_coco.py``), in ``cfg_path`` and in
``_base_``. Such a name is resolved to the installed package's file, with a
warning naming it:

1. the same name once ``-``/``_`` are unified and the renamed tokens mapped
   (``mstrain`` -> ``ms``, ``fp16`` -> ``amp``);
2. the model-zoo metafiles: a config's ``Weights`` URL still carries its old
   name (``.../faster_rcnn_r50_fpn_1x_coco/faster_rcnn_r50_fpn_1x_coco_2020...pth``);
3. the same tokens in another order, ignoring a ``4xb2``-style batch token
   (mmseg 1.x: ``pspnet_r18-d8_512x1024_80k_cityscapes`` ->
   ``pspnet_r18-d8_4xb2-80k_cityscapes-512x1024``).

Candidates are looked for in the same config folder. No match, or several,
is a ``FileNotFoundError`` naming the path and the closest configs.

:func:`install_legacy_config_names` (called when :mod:`cankd` is imported)
wraps mmengine's ``_get_external_cfg_base_path``, the lookup that both
``Config.fromfile`` (``_base_``) and ``mmengine.hub.get_config``
(``cfg_path``) fall back to once the metafile lookup fails: existing names
take the original path unchanged.
"""
import difflib
import functools
import os
import os.path as osp
import re
import warnings
from typing import Dict, List, Tuple
from urllib.parse import unquote

from mmengine.logging import print_log

__all__ = ['LegacyConfigNameWarning', 'resolve_package_cfg_path', 'find_legacy_config',
           'install_legacy_config_names']

_RENAMED_TOKENS = {'mstrain': 'ms', 'fp16': 'amp'}
_BATCH_TOKEN = re.compile(r'^\d+xb\d+$')
# The release series whose config names changed.
_OLD_SERIES = {'mmdet': 'mmdet 2.x', 'mmseg': 'mmseg 0.x'}
_installed = False


class LegacyConfigNameWarning(UserWarning):
    """A config path named an mmdet 2.x / mmseg 0.x config, resolved to its
    current name."""


def _configs_root(package_path: str) -> str:
    return osp.join(package_path, '.mim', 'configs')


def _norm(name: str) -> str:
    stem = osp.splitext(name)[0].lower().replace('-', '_')
    return '_'.join(_RENAMED_TOKENS.get(t, t) for t in stem.split('_'))


def _token_set(name: str) -> Tuple[str, ...]:
    return tuple(sorted(t for t in _norm(name).split('_') if not _BATCH_TOKEN.match(t)))


@functools.cache
def _package_configs(package_path: str) -> Tuple[str, ...]:
    """Every config of the package, relative to its configs folder."""
    root = _configs_root(package_path)
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith('.py'):
                found.append(osp.relpath(osp.join(folder, name), root).replace(os.sep, '/'))
    return tuple(sorted(found))


@functools.cache
def _weights_names(package_path: str) -> Dict[str, List[str]]:
    """Old name (``folder/old_name.py``) -> current configs, from the
    ``Weights`` URLs of the package's metafiles."""
    from mmengine.fileio import load
    index_path = osp.join(package_path, '.mim', 'model-index.yml')
    names: Dict[str, List[str]] = {}
    if not osp.isfile(index_path):
        return names
    for meta_path in load(index_path).get('Import', []):
        try:
            meta = load(osp.join(package_path, '.mim', meta_path))
        except Exception:  # noqa: BLE001 - a broken metafile only loses hints
            continue
        for model in (meta or {}).get('Models', []) or []:
            config, weights = model.get('Config'), model.get('Weights')
            if not config or not isinstance(weights, str):
                continue
            current = config.partition('/')[-1]  # drop 'configs/'
            old = unquote(weights.rstrip('/').split('/')[-2]) + '.py'  # %2B: '+'
            key = f'{osp.dirname(current)}/{old}'
            if key != current and current not in names.setdefault(key, []):
                names[key].append(current)
    return names


def find_legacy_config(package_path: str, cfg_name: str) -> Tuple[List[str], List[str]]:
    """(matches, close names) for ``cfg_name`` (relative to the package's
    configs folder) among the installed configs."""
    configs = _package_configs(package_path)
    folder, name = osp.split(cfg_name.replace('\\', '/'))
    same_folder = [c for c in configs if osp.dirname(c) == folder]
    pool = same_folder or list(configs)
    matches = [c for c in pool if _norm(osp.basename(c)) == _norm(name)]
    if not matches:
        matches = [c for c in _weights_names(package_path).get(cfg_name, []) if c in configs]
    if not matches:
        matches = [c for c in pool if _token_set(osp.basename(c)) == _token_set(name)]
    close = difflib.get_close_matches(cfg_name, configs, n=5, cutoff=0.6)
    if not close and same_folder:
        close = difflib.get_close_matches(name, [osp.basename(c) for c in same_folder], n=5,
                                          cutoff=0.5)
        close = [f'{folder}/{c}' if folder else c for c in close]
    return matches, close


def _scope_of(package_path: str) -> str:
    return osp.basename(osp.normpath(package_path))


def _resolve(package_path: str, cfg_name: str) -> str:
    """The current name of ``cfg_name`` (relative to the configs folder),
    warning when it differs; FileNotFoundError when there is none."""
    if osp.isfile(osp.join(_configs_root(package_path), cfg_name)):
        return cfg_name
    scope = _scope_of(package_path)
    matches, close = find_legacy_config(package_path, cfg_name)
    if len(matches) == 1:
        resolved = matches[0]
        old = _OLD_SERIES.get(scope, f'an older {scope}')
        message = (f'{scope}::{cfg_name} is an {old} config name: using '
                   f'{scope}::{resolved} ({osp.join(_configs_root(package_path), resolved)})')
        warnings.warn(message, LegacyConfigNameWarning, stacklevel=3)
        print_log(message, logger='current', level=30)
        return resolved
    if matches:
        raise FileNotFoundError(
            f'{scope}::{cfg_name}: no such config in the installed {scope} '
            f'({_configs_root(package_path)}), and the old-name lookup is ambiguous: '
            f'{", ".join(scope + "::" + m for m in matches)}; name one of them')
    hint = (f'closest: {", ".join(scope + "::" + c for c in close)}' if close
            else 'no config with a similar name')
    raise FileNotFoundError(
        f'{scope}::{cfg_name}: no such config in the installed {scope} '
        f'({_configs_root(package_path)}), under its current or its '
        f'{_OLD_SERIES.get(scope, "older")} name; {hint}')


def resolve_package_cfg_path(cfg_path: str) -> str:
    """``'mmdet::folder/name.py'`` with ``name`` resolved to the installed
    package's file (see the module docstring); other paths unchanged."""
    if '::' not in cfg_path:
        return cfg_path
    from mmengine.config.utils import _get_package_and_cfg_path
    from mmengine.utils import get_installed_path, is_installed
    scope = cfg_path.partition('::')[0]
    package, cfg_name = _get_package_and_cfg_path(cfg_path)
    if not is_installed(package):
        raise ModuleNotFoundError(f'{cfg_path}: {package} is not installed')
    return f'{scope}::{_resolve(get_installed_path(package), cfg_name)}'


def install_legacy_config_names() -> None:
    """Resolve old names in mmengine's package-config lookup (idempotent)."""
    global _installed
    if _installed:
        return
    import mmengine.config.config as mme_config
    import mmengine.hub.hub as mme_hub
    original = mme_config._get_external_cfg_base_path

    def _get_external_cfg_base_path(package_path: str, cfg_name: str) -> str:
        path = osp.join(_configs_root(package_path), cfg_name)
        if osp.isfile(path):
            return original(package_path, cfg_name)
        return original(package_path, _resolve(package_path, cfg_name))

    _get_external_cfg_base_path.__wrapped__ = original
    mme_config._get_external_cfg_base_path = _get_external_cfg_base_path
    mme_hub._get_external_cfg_base_path = _get_external_cfg_base_path
    _installed = True
