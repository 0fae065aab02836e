# Copyright (c) mmhier contributors. All rights reserved.
from .path_utils import (ancestor_closure, common_prefix_length, gt_node_sets,
                         imply_paths, imply_topk_paths, is_open, last_nodes,
                         max_child_scores, path_distance, path_lengths,
                         path_min_scores, paths_to_node_mask, single_gt_path,
                         to_paths, to_scores)
from .sample_fields import (get_gt_paths, get_pred_path, get_pred_score,
                            get_pred_topk_paths)
from .threshold_io import (CHECKPOINT_KEY, RUNTIME_KEY, THRESHOLD_FILE,
                           THRESHOLD_METRICS, find_val_threshold,
                           load_threshold, load_threshold_entry,
                           resolve_threshold, save_threshold,
                           set_threshold_files, threshold_file_name)
from .topk_paths import sample_topk_paths

__all__ = [
    'to_paths', 'to_scores', 'imply_paths', 'imply_topk_paths', 'path_lengths',
    'last_nodes', 'is_open', 'common_prefix_length', 'path_distance',
    'paths_to_node_mask', 'ancestor_closure', 'path_min_scores',
    'max_child_scores', 'gt_node_sets', 'single_gt_path', 'get_gt_paths',
    'get_pred_path', 'get_pred_topk_paths', 'get_pred_score', 'THRESHOLD_FILE',
    'THRESHOLD_METRICS', 'CHECKPOINT_KEY', 'RUNTIME_KEY', 'save_threshold',
    'load_threshold', 'load_threshold_entry', 'resolve_threshold',
    'find_val_threshold', 'threshold_file_name', 'set_threshold_files',
    'sample_topk_paths'
]
