# Copyright (c) mmhier contributors. All rights reserved.
from .hier_visualizer import HierVisualizer
from .prediction_drawing import draw_hier_prediction, format_path
from .tree_drawing import TreeLayout, draw_tree, layout_tree, render_tree

__all__ = [
    'HierVisualizer', 'draw_tree', 'draw_hier_prediction', 'format_path',
    'TreeLayout', 'layout_tree', 'render_tree'
]
