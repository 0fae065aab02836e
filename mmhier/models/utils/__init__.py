# Copyright (c) mmhier contributors. All rights reserved.
from .hier_data_preprocessor import HierDataPreprocessor
from .path_scores import path_min_scores, select_label_nodes, topk_label_paths
from .rnn import build_rnn, init_rnn, merge_directions
from .tree_beam_search import (BeamSearchResult, tree_beam_search,
                               tree_beam_search_static)

__all__ = [
    'HierDataPreprocessor', 'BeamSearchResult', 'tree_beam_search',
    'tree_beam_search_static', 'path_min_scores', 'select_label_nodes',
    'topk_label_paths', 'build_rnn', 'init_rnn', 'merge_directions'
]
from .crm import crm_cost_matrix, crm_decode, crm_rank  # noqa: E402
from .tree_distance import (
    DISTANCES,
    resolve_label_nodes,  # noqa: E402
    tree_distance_matrix)

__all__ += [
    'crm_cost_matrix', 'crm_decode', 'crm_rank', 'DISTANCES',
    'resolve_label_nodes', 'tree_distance_matrix'
]
