# Copyright (c) mmhier contributors. All rights reserved.
from .base_tree_loss import BaseTreeLoss
from .hier_soft_label_loss import HierSoftLabelLoss
from .hierarchical_cross_entropy_loss import HierarchicalCrossEntropyLoss

__all__ = ['BaseTreeLoss', 'HierSoftLabelLoss', 'HierarchicalCrossEntropyLoss']
