from .checkpoint import UnsafeCheckpointError, install_safe_loading, safe_load
from .launcher import exit_without_native_teardown, setup_cpu_distributed, shutdown_distributed
from .setup_env import register_all_modules

__all__ = ['safe_load', 'UnsafeCheckpointError', 'install_safe_loading', 'register_all_modules',
           'setup_cpu_distributed', 'shutdown_distributed', 'exit_without_native_teardown']
