# Copyright (c) mmhier contributors. All rights reserved.
from . import functional  # noqa: F401
from .functional import imply_paths, imply_topk_paths, set_threshold_files
from .metrics import (BaseHierMetric, HierAccuracy, HierConfusionMatrix,
                      HierF1, HierMultiLabelMetric, MistakeSeverity)

__all__ = [
    'BaseHierMetric', 'HierAccuracy', 'HierConfusionMatrix', 'HierF1',
    'HierMultiLabelMetric', 'MistakeSeverity', 'imply_paths',
    'imply_topk_paths', 'set_threshold_files'
]
