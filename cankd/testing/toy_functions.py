"""Module-level functions and a class for method/function recorder and
delivery examples and tests (mmrazor's ``tests/.../toy_mod.py`` in spirit):
their dotted paths, e.g. ``'cankd.testing.toy_functions.toy_func'``, are
importable wherever cankd is."""
import random

import torch

TOY_VAR = 'not a function'


def toy_func(a):
    return a


def toy_func2(a, b=0):
    return a, b


def execute_toy_func(a):
    """Calls :func:`toy_func` through this module's namespace."""
    return toy_func(a)


def random_int() -> int:
    return random.randint(0, 10**6)


def random_mask(x: torch.Tensor) -> torch.Tensor:
    """A random 0/1 mask shaped like ``x`` (N x 1 x H x W for N x C x H x W):
    a stand-in for random sampling inside a model."""
    return (torch.rand(x.shape[0], 1, *x.shape[2:]) > 0.5).to(x.dtype)


class ToyClass:

    def __init__(self) -> None:
        self.count = 0

    def func(self, x, y=0):
        return x + y

    def random_int(self) -> int:
        return random.randint(0, 10**6)

    @staticmethod
    def static_func(x, y=0):
        return x * 10 + y

    def __call__(self) -> int:
        self.count += 1
        return self.count


class ToySubClass(ToyClass):
    """Inherits ``func``: patching it must not leave a copy on the subclass."""
