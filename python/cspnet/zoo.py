"""The model zoo: CSPNet and baseline architectures built in code."""
from __future__ import annotations

from typing import List

from . import _cspnet


def list() -> List[str]:  # noqa: A001  (the issue's name: cspnet.zoo.list())
    """Names of the zoo's models."""
    return _cspnet.zoo_list()


def build(name: str) -> "_cspnet.Network":
    """Builds a zoo model with untrained parameters (call init_weights or load_weights)."""
    return _cspnet.zoo_build(name)
