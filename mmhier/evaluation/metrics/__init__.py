# Copyright (c) mmhier contributors. All rights reserved.
from .base_hier_metric import BaseHierMetric
from .hier_accuracy import HierAccuracy
from .hier_confusion_matrix import HierConfusionMatrix
from .hier_f1 import HierF1
from .hier_multi_label_metric import HierMultiLabelMetric
from .mistake_severity import MistakeSeverity

__all__ = [
    'BaseHierMetric', 'HierAccuracy', 'HierConfusionMatrix', 'HierF1',
    'HierMultiLabelMetric', 'MistakeSeverity'
]
