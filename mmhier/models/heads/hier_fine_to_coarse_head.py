# Copyright (c) mmhier contributors. All rights reserved.
"""Guo et al.'s "fine-to-coarse" CNN-based generator (Strategy 2)."""
from mmpretrain.registry import MODELS

from .base_cnn_generator_head import BaseCNNGeneratorHead


@MODELS.register_module()
class HierFineToCoarseHead(BaseCNNGeneratorHead):
    """Level classifiers in series, fine first.

    The "fine-to-coarse" baseline of Guo et al. (section 3.1, Fig. 2,
    Strategy 2; Table 2): the fine classifier reads the feature v and the
    coarse classifier the fine classifier's output, both supervised
    (eq. (1)). On a tree of depth T: ``z_T = fc_T(v)``,
    ``z_t = fc_t(z_{t+1})`` (``serial_input`` and ``concat_feature`` as in
    :class:`HierCoarseToFineHead`). The coarse level is learned, not read
    off the tree, so the predicted path may be inconsistent. See
    :class:`BaseCNNGeneratorHead` for the arguments and the decoders.

    Examples:
        >>> head = MODELS.build(dict(
        ...     type='HierFineToCoarseHead', in_channels=16,
        ...     tree={'A': ['C', 'D'], 'B': ['E', 'F', 'G']}))
        >>> head.fcs[0]   # the coarse layer reads the 5 fine scores
        Linear(in_features=5, out_features=2, bias=True)
    """
    serial_order = 'fine_to_coarse'
