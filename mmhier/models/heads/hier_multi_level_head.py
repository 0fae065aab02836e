# Copyright (c) mmhier contributors. All rights reserved.
"""Guo et al.'s "fine-and-coarse" CNN-based generator (Strategy 3)."""
from mmpretrain.registry import MODELS

from .base_cnn_generator_head import BaseCNNGeneratorHead


@MODELS.register_module()
class HierMultiLevelHead(BaseCNNGeneratorHead):
    """One linear classifier per level, in parallel on the CNN feature.

    The "fine-and-coarse" baseline of Guo et al. (section 3.1, Fig. 2,
    Strategy 3; Table 2): ``z_t = fc_t(v)`` for every level t, trained with
    the sum of the levels' softmax losses (eq. (1)). The levels do not see
    each other, so predicted paths may be inconsistent. See
    :class:`BaseCNNGeneratorHead` for the arguments (``serial_input`` and
    ``concat_feature`` have no effect here), the variable-depth extension
    and the decoders.

    Examples:
        >>> head = MODELS.build(dict(
        ...     type='HierMultiLevelHead', in_channels=16,
        ...     tree={'A': ['C', 'D'], 'B': ['E', 'F', 'G']}))
        >>> head((torch.rand(4, 16), )).shape
        torch.Size([4, 2, 7])
    """
    serial_order = None
