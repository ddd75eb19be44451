"""Shared by the config tests: each config file is parsed once per session.

Resolving the ``mmdet::``/``mmseg::`` bases is most of a config test's time,
and both test files read the same configs.
"""
import copy
import functools
import os.path as osp

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='session', autouse=True)
def _read_package_metafiles_once():
    """mmengine parses all metafiles of mmdet/mmseg (about 0.7 s) each time it
    resolves an ``mmdet::``-style name, ``_base_`` files included (the lookup
    fails with ValueError, then the base path is used); remember each answer,
    failures too."""
    import mmengine.config.utils as cfg_utils
    import mmengine.hub.hub as hub
    original = cfg_utils._get_cfg_metainfo

    @functools.cache
    def outcome(package_path: str, cfg_path: str):
        try:
            return original(package_path, cfg_path), None
        except ValueError as exc:
            return None, exc.args

    def metainfo(package_path: str, cfg_path: str) -> dict:
        info, error = outcome(package_path, cfg_path)
        if error is not None:
            # A fresh exception: re-raising a cached one would grow its
            # traceback, and keep every caller's frame (and model) alive.
            raise ValueError(*error)
        return info

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cfg_utils, '_get_cfg_metainfo', metainfo)
        patch.setattr(hub, '_get_cfg_metainfo', metainfo)
        yield


@functools.cache
def _parse(path: str) -> Config:
    return Config.fromfile(osp.join(ROOT, path))


@pytest.fixture(scope='session')
def load_config():
    """``load_config(path)``: the config at ``path`` (relative to the repo
    root), parsed once per session; each call returns its own deep copy, so
    callers may edit it."""
    return lambda path: copy.deepcopy(_parse(path))
