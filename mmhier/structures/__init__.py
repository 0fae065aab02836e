# Copyright (c) mmhier contributors. All rights reserved.
from .class_tree import ClassTree
from .label_paths import (batched_gt_paths, mark_batched, paths_to_multihot,
                          stack_gt_paths)
from .tree_compare import (TreeMismatchError, check_same_tree,
                           first_tree_difference)
from .tree_constants import PATH_END, PATH_UNKNOWN, ROOT_NAME
from .tree_validation import TreeError

__all__ = [
    'ClassTree', 'TreeError', 'PATH_END', 'PATH_UNKNOWN', 'ROOT_NAME',
    'stack_gt_paths', 'batched_gt_paths', 'mark_batched', 'paths_to_multihot',
    'TreeMismatchError', 'check_same_tree', 'first_tree_difference'
]
