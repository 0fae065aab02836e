# Copyright (c) mmhier contributors. All rights reserved.
from .base_hier_head import BaseHierHead
from .hier_joint_head import HierJointHead
from .hier_rnn_head import HierRNNHead
from .hier_s2s_head import HierS2SHead

__all__ = ['BaseHierHead', 'HierJointHead', 'HierRNNHead', 'HierS2SHead']
from .base_cnn_generator_head import BaseCNNGeneratorHead  # noqa: E402
from .guo_rnn_head import GuoRNNHead  # noqa: E402
from .hier_coarse_to_fine_head import HierCoarseToFineHead  # noqa: E402
from .hier_fine_to_coarse_head import HierFineToCoarseHead  # noqa: E402
from .hier_multi_level_head import HierMultiLevelHead  # noqa: E402

__all__ += [
    'BaseCNNGeneratorHead', 'GuoRNNHead', 'HierCoarseToFineHead',
    'HierFineToCoarseHead', 'HierMultiLevelHead'
]
from .hier_linear_cls_head import HierLinearClsHead  # noqa: E402

__all__ += ['HierLinearClsHead']
