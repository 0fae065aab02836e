# Copyright (c) mmhier contributors. All rights reserved.
from .backbone_split import split_backbone
from .grouping import (build_group_tree, confusion_probability_matrix,
                       group_classes)
from .hiernet_classifier import HierNetClassifier

__all__ = [
    'HierNetClassifier', 'split_backbone', 'confusion_probability_matrix',
    'group_classes', 'build_group_tree'
]
