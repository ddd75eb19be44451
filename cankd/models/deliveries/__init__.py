from .delivery_manager import DistillDeliveryManager
from .distill_delivery import DeliveryQueueError, DistillDelivery
from .function_outputs_delivery import FunctionOutputsDelivery
from .method_outputs_delivery import MethodOutputsDelivery

__all__ = ['DistillDelivery', 'FunctionOutputsDelivery', 'MethodOutputsDelivery',
           'DistillDeliveryManager', 'DeliveryQueueError']
