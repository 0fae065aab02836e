# Copyright (c) mmhier contributors. All rights reserved.
"""The classifier in each inner node of HierNet."""
import torch
import torch.nn as nn


class HierNetNodeClassifier(nn.Module):
    """The classifier ``c_i`` of one inner node (section 3.1 of the paper).

    ``c_i = softmax(W . pool(extra(x)) + b)``: optional extra backbone
    layers (section 3.3), global average pooling (``c_{i,1}``; inputs that
    are already flat pass through) and a linear layer with one output per
    child (``c_{i,2}``). The softmax (``c_{i,3}``) is left to the caller,
    which works in log space.

    Args:
        extra: The extra layers (an empty ``nn.Sequential`` for none).
        in_channels: Channels after ``extra``.
        num_children: Number of children of the node.
    """

    def __init__(self, extra: nn.Sequential, in_channels: int,
                 num_children: int):
        super().__init__()
        self.extra = extra
        self.fc = nn.Linear(in_channels, num_children)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.extra(x)
        if x.dim() > 2:
            x = x.flatten(2).mean(-1)
        return self.fc(x)
