"""cankd registries: children of mmengine's roots (the mmdet/registry.py pattern).

Modules register on import of their ``locations``. A config whose scope is
``cankd`` still builds mmdet and mmseg models: give the model dict
``_scope_='mmdet'`` (mmengine then builds its submodules in mmdet too), or,
for a teacher/student, let the distillation algorithms infer the scope (see
:func:`cankd.models.algorithms.build.build_submodel`).
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

# Models: algorithms, distillers, recorders, connectors and distill losses all
# live in MODELS (as in mmrazor), so a config needs one vocabulary.
MODELS = Registry('model', parent=MMENGINE_MODELS, locations=['cankd.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, locations=['cankd.models'])
TASK_UTILS = Registry(
    'task util', parent=MMENGINE_TASK_UTILS, locations=['cankd.models'])

LOOPS = Registry('loop', parent=MMENGINE_LOOPS, locations=['cankd.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['cankd.engine'])
OPTIMIZERS = Registry(
    'optimizer', parent=MMENGINE_OPTIMIZERS, locations=['cankd.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, locations=['cankd.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['cankd.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler',
    parent=MMENGINE_PARAM_SCHEDULERS,
    locations=['cankd.engine'])

DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, locations=['cankd.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, locations=['cankd.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMENGINE_TRANSFORMS, locations=['cankd.datasets'])

METRICS = Registry(
    'metric', parent=MMENGINE_METRICS, locations=['cankd.engine'])
