"""The reliability hooks cankd's tools add to every config they run."""
import copy

from mmengine.config import Config

__all__ = ['SAFETY_HOOKS', 'apply_safety_defaults']

# default_hooks entries (mmengine builds them in the config's scope, hence
# the explicit 'cankd.' prefix for mmdet/mmseg-scoped configs).
SAFETY_HOOKS = dict(
    nonfinite_check=dict(type='cankd.NonFiniteCheckHook'),
    exact_resume=dict(type='cankd.ExactResumeHook'),
)


def apply_safety_defaults(cfg: Config) -> Config:
    """Add :data:`SAFETY_HOOKS` to ``cfg.default_hooks`` where the config does
    not set them; an entry set to ``None`` (e.g. ``--cfg-options
    default_hooks.nonfinite_check=None``) turns that hook off. Returns ``cfg``.
    """
    hooks = cfg.get('default_hooks')
    if hooks is None:
        cfg.default_hooks = hooks = {}
    for name, default in SAFETY_HOOKS.items():
        if name not in hooks:
            hooks[name] = copy.deepcopy(default)
        elif hooks[name] is None:
            # mmengine only accepts None for its own default hook names.
            del hooks[name]
    return cfg
