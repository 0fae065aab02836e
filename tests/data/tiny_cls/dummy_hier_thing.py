# Copyright (c) mmhier contributors. All rights reserved.
"""A component outside mmhier, registered by bare name in mmpretrain's MODELS.

``tests/test_registry.py`` loads it through a config's ``custom_imports``,
the way a user's own plugin module would be loaded.
"""
from mmpretrain.registry import MODELS
from torch import nn


@MODELS.register_module()
class DummyHierThing(nn.Module):
    """A linear layer with a name nobody else uses.

    Args:
        in_channels (int): input features.
        num_nodes (int): output features.
    """

    def __init__(self, in_channels: int, num_nodes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_channels, num_nodes)

    def forward(self, x):
        return self.fc(x)
