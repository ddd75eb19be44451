from .optim_wrappers import CPUAmpOptimWrapper, enable_amp  # noqa: F401
from .hooks import *  # noqa: F401,F403
from .runner import *  # noqa: F401,F403
from .safety_defaults import SAFETY_HOOKS, apply_safety_defaults  # noqa: F401
