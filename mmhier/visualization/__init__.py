# Copyright (c) mmhier contributors. All rights reserved.
from .hier_visualizer import HierVisualizer
from .level_marks import draw_level_marks, level_marks
from .prediction_drawing import draw_hier_prediction, format_path
from .tree_drawing import TreeLayout, draw_tree, layout_tree, render_tree

__all__ = [
    'HierVisualizer', 'draw_tree', 'draw_hier_prediction', 'format_path',
    'TreeLayout', 'layout_tree', 'render_tree', 'draw_level_marks',
    'level_marks'
]
