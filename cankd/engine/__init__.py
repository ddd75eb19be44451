from .optim_wrappers import CPUAmpOptimWrapper, enable_amp  # noqa: F401
from .runner import *  # noqa: F401,F403
