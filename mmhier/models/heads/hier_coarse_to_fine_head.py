# Copyright (c) mmhier contributors. All rights reserved.
"""Guo et al.'s "coarse-to-fine" CNN-based generator (Strategy 1)."""
from mmpretrain.registry import MODELS

from .base_cnn_generator_head import BaseCNNGeneratorHead


@MODELS.register_module()
class HierCoarseToFineHead(BaseCNNGeneratorHead):
    """Level classifiers in series, coarse first.

    The "coarse-to-fine" baseline of Guo et al. (section 3.1, Fig. 2,
    Strategy 1; Table 2): the CNN's last layer is replaced by two stacked
    layers, the coarse classifier on the feature v and the fine classifier
    on the coarse classifier's output, both supervised (eq. (1)). On a tree
    of depth T: ``z_1 = fc_1(v)``, ``z_t = fc_t(z_{t-1})`` (or
    ``fc_t(softmax(z_{t-1}))`` with ``serial_input='probs'``, or
    ``fc_t([v; z_{t-1}])`` with ``concat_feature=True``). See
    :class:`BaseCNNGeneratorHead` for the arguments and the decoders.

    Examples:
        >>> head = MODELS.build(dict(
        ...     type='HierCoarseToFineHead', in_channels=16,
        ...     tree={'A': ['C', 'D'], 'B': ['E', 'F', 'G']}))
        >>> head.fcs[1]   # the fine layer reads the 2 coarse scores
        Linear(in_features=2, out_features=5, bias=True)
    """
    serial_order = 'coarse_to_fine'
