from typing import Optional

from torch import nn

from cankd.registry import MODELS, TASK_UTILS
from .base_recorder import BaseRecorder, closest_names


@MODELS.register_module()
@TASK_UTILS.register_module(name='ParameterRecorder')  # mmrazor's class name
class Parameter(BaseRecorder):
    """Records a parameter of the model, e.g. ``'head.fc.weight'``
    (mmrazor's ``ParameterRecorder``, config type ``'Parameter'``).

    ``initialize(model)`` puts the ``nn.Parameter`` itself in
    ``data_buffer`` (``get_record_data()`` returns it, with its current
    values and gradient); nothing is recorded during a forward and
    ``reset_data_buffer`` keeps it.
    """

    def prepare_from_model(self, model: Optional[nn.Module] = None) -> None:
        if model is None:
            raise ValueError(f'Parameter(source={self.source!r}) needs the model: '
                             'initialize(model)')
        params = dict(model.named_parameters())
        if self.source not in params:
            raise ValueError(
                f'Parameter: no parameter named {self.source!r} in '
                f'{type(model).__name__}. Closest names: '
                f'{closest_names(self.source, list(params))}')
        self.data_buffer = [params[self.source]]

    def reset_data_buffer(self) -> None:
        """The buffer holds the parameter, not a record of a forward: kept."""
