# Copyright (c) mmhier contributors. All rights reserved.
"""Draw a :class:`ClassTree` (optionally with paths highlighted) with
matplotlib.

The tree is laid out left to right: the root in the first column, level
``d`` in column ``d``, one row per leaf of the drawn tree and every inner
node centred on its children. Coordinates are inches, so a figure grows
with the tree and its labels keep a fixed, legible size.

Big trees (more than ``max_nodes`` nodes) are drawn *expanded along the
highlighted paths*: the level-1 nodes, and the children of every node on a
highlighted path; the other nodes are collapsed and say how many
descendants they hide (``name (+12)``). Long sibling lists keep the
highlighted nodes and the first few others, then a ``... +m more`` row.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np

from mmhier.structures import ClassTree

__all__ = ['draw_tree', 'TreeLayout', 'layout_tree', 'render_tree']

#: colours of the best path, of the other highlighted paths, of the rest
BEST_COLOUR = '#d62728'
OTHER_COLOUR = '#ff7f0e'
PLAIN_COLOUR = '#555555'
ROW_HEIGHT = 0.3  # inches per row of the tree
FONT_SIZE = 9.
CHAR_WIDTH = 0.6 * FONT_SIZE / 72  # inches, generous for DejaVu Sans
COLUMN_GAP = 0.35  # inches between the label boxes of two columns
MARGIN = 0.15  # inches around the drawing

PathLike = Sequence[int]


class TreeLayout:
    """Where every drawn node of a tree goes.

    Attributes:
        nodes: Drawn node ids in drawing order; ``-1`` is the root, values
            ``<= -2`` are "more siblings" rows (see ``labels``).
        parent: Drawn parent of each drawn node (``None`` for the root).
        labels: Text of each drawn node.
        xy: ``(x, y)`` of each node's label box: left edge and vertical
            centre, inches (the labels of a column are left-aligned).
        widths: Estimated width of each node's label box, inches.
        size: ``(width, height)`` of the whole drawing, inches.
    """

    def __init__(self) -> None:
        self.nodes: List[int] = []
        self.parent: Dict[int, Optional[int]] = {}
        self.labels: Dict[int, str] = {}
        self.xy: Dict[int, Tuple[float, float]] = {}
        self.widths: Dict[int, float] = {}
        self.size: Tuple[float, float] = (0., 0.)


def _label_width(text: str) -> float:
    return len(text) * CHAR_WIDTH + 0.12


def _descendant_counts(tree: ClassTree) -> np.ndarray:
    """Number of descendants of every node (vectorised over the levels)."""
    counts = np.zeros(tree.num_nodes, dtype=np.int64)
    for level in reversed(tree.levels[1:]):  # deepest level first
        np.add.at(counts, tree.parents[level], counts[level] + 1)
    return counts


def layout_tree(tree: ClassTree,
                highlight: Sequence[int] = (),
                max_nodes: int = 60,
                max_siblings: int = 12,
                use_display_names: bool = True,
                root_label: str = 'root') -> TreeLayout:
    """Choose the nodes to draw and place them.

    Args:
        tree: The class tree.
        highlight: Nodes that must be drawn (the highlighted paths).
        max_nodes: Draw the whole tree up to this many nodes; above it,
            expand only along ``highlight``.
        max_siblings: In a big tree, siblings shown per parent besides the
            highlighted ones.
        use_display_names: Label nodes with ``tree.display_names``.
        root_label: Label of the root.

    Returns:
        The :class:`TreeLayout`.
    """
    names = tree.display_names if use_display_names else tree.names
    highlight = {int(i) for i in highlight if int(i) >= 0}
    big = tree.num_nodes > max_nodes
    expanded = {-1}
    for node in highlight:
        expanded.update(tree.path(node))
    hidden = _descendant_counts(tree)

    layout = TreeLayout()
    rows: List[int] = []  # drawn nodes that take a row of their own
    more_id = -2

    def visit(node: int, parent: Optional[int]) -> None:
        nonlocal more_id
        layout.nodes.append(node)
        layout.parent[node] = parent
        kids = tree.children(node)
        if big and node not in expanded:
            kids = []
        if node == -1:
            label = root_label
        else:
            label = names[node]
            if kids == [] and hidden[node]:
                label = f'{label} (+{hidden[node]})'
        layout.labels[node] = label
        shown, rest = kids, 0
        if big and len(kids) > max_siblings:
            keep = [k for k in kids if k in expanded]
            others = [k for k in kids if k not in expanded]
            keep_set = set(keep + others[:max(max_siblings - len(keep), 0)])
            shown = [k for k in kids if k in keep_set]
            rest = len(kids) - len(shown)
        for kid in shown:
            visit(kid, node)
        if rest:
            layout.nodes.append(more_id)
            layout.parent[more_id] = node
            layout.labels[more_id] = f'... +{rest} more'
            rows.append(more_id)
            more_id -= 1
        if not shown and not rest:
            rows.append(node)

    visit(-1, None)

    # columns: depth d at x = sum of the widths of the columns before it
    depth = {-1: 0}
    for node in layout.nodes[1:]:
        depth[node] = depth[layout.parent[node]] + 1
    for node in layout.nodes:
        layout.widths[node] = _label_width(layout.labels[node])
    num_cols = max(depth.values()) + 1
    col_width = [0.] * num_cols
    for node in layout.nodes:
        col_width[depth[node]] = max(col_width[depth[node]],
                                     layout.widths[node])
    col_x, x = [], MARGIN
    for w in col_width:
        col_x.append(x)
        x += w + COLUMN_GAP
    width = x - COLUMN_GAP + MARGIN

    # rows: leaves of the drawing in order, inner nodes centred on children
    y = {node: MARGIN + (r + 0.5) * ROW_HEIGHT for r, node in enumerate(rows)}
    drawn_kids: Dict[int, List[int]] = {}
    for node in layout.nodes[1:]:
        drawn_kids.setdefault(layout.parent[node], []).append(node)
    for node in reversed(layout.nodes):  # children before parents
        if node not in y:
            kids = drawn_kids[node]
            y[node] = (y[kids[0]] + y[kids[-1]]) / 2
    for node in layout.nodes:
        layout.xy[node] = (col_x[depth[node]], y[node])
    layout.size = (width, 2 * MARGIN + len(rows) * ROW_HEIGHT)
    return layout


def render_tree(
    ax,
    layout: TreeLayout,
    best: Sequence[int] = (),
    others: Sequence[int] = (),
    offset: Tuple[float, float] = (0., 0.)
) -> None:
    """Draw a laid-out tree on a matplotlib axes whose data units are
    inches (x to the right, y downwards).

    Labels are drawn first; the edges then join the measured right edge of
    a parent's label box to the left edge of its children's boxes.

    Args:
        ax: The axes.
        layout: From :func:`layout_tree`.
        best: Nodes of the best path (drawn red, bold).
        others: Nodes of the other highlighted paths (drawn orange).
        offset: ``(x, y)`` of the layout's top-left corner on the axes.
    """
    best = {int(i) for i in best if int(i) >= 0}
    others = {int(i) for i in others if int(i) >= 0} - best
    if best:
        best.add(-1)
    if others:
        others.add(-1)
    ox, oy = offset
    pad = 0.05  # inches between a box and the text inside

    texts = {}
    for node in layout.nodes:
        x, y = layout.xy[node]
        on_best, on_other = node in best, node in others
        edge = (
            BEST_COLOUR
            if on_best else OTHER_COLOUR if on_other else '#999999')
        texts[node] = ax.text(
            ox + x + pad,
            oy + y,
            layout.labels[node],
            ha='left',
            va='center',
            fontsize=FONT_SIZE,
            color='black' if on_best or on_other else '#333333',
            fontweight='bold' if on_best else 'normal',
            fontstyle='italic' if node <= -2 else 'normal',
            zorder=5,
            bbox=dict(
                boxstyle='round,pad=0.25',
                facecolor=('#fde0dd'
                           if on_best else '#feebd3' if on_other else 'white'),
                edgecolor=edge,
                linewidth=1.5 if on_best or on_other else 0.7))

    # measure the drawn boxes (data units) to join them exactly
    renderer = ax.figure.canvas.get_renderer()
    to_data = ax.transData.inverted()
    left, right = {}, {}
    for node, text in texts.items():
        patch = text.get_bbox_patch()
        text.update_bbox_position_size(renderer)
        box = patch.get_window_extent(renderer)
        (x0, _), (x1, _) = to_data.transform([[box.x0, 0], [box.x1, 0]])
        left[node], right[node] = x0, x1

    for node in layout.nodes:
        parent = layout.parent[node]
        if parent is None:
            continue
        py, cy = layout.xy[parent][1], layout.xy[node][1]
        on_best = node in best and parent in best
        on_other = node in others and parent in (others | best)
        ax.plot([right[parent], left[node]], [oy + py, oy + cy],
                color=(BEST_COLOUR if on_best else
                       OTHER_COLOUR if on_other else '#bbbbbb'),
                linewidth=2.4 if on_best else 1.6 if on_other else 0.9,
                zorder=1 + on_best + on_other,
                solid_capstyle='butt')


def _as_path_list(paths) -> List[List[int]]:
    """Paths given as a tensor, an array or lists -> lists of node ids."""
    if paths is None:
        return []
    rows = paths.tolist() if hasattr(paths, 'tolist') else list(paths)
    if rows and np.ndim(rows[0]) == 0:  # a single path
        rows = [rows]
    return [[int(i) for i in row if int(i) >= 0] for row in rows]


def draw_tree(tree: ClassTree,
              highlight_path: Optional[PathLike] = None,
              other_paths: Optional[Sequence[PathLike]] = None,
              out_file: Optional[str] = None,
              title: Optional[str] = None,
              max_nodes: int = 60,
              use_display_names: bool = True,
              dpi: int = 150) -> np.ndarray:
    """Draw a class tree, optionally with a path highlighted, to an image.

    Args:
        tree: The class tree (anything :meth:`ClassTree.build` accepts).
        highlight_path: Node indices of the path to highlight (red), padding
            (negative values) ignored; a node index alone highlights its
            path.
        other_paths: More paths to highlight in a lighter colour (e.g. the
            other top-k predictions).
        out_file: Save the drawing there (PNG, folders created).
        title: Text above the tree.
        max_nodes: Above this many nodes only the highlighted paths are
            expanded (see the module docstring).
        use_display_names: Label nodes with their display names.
        dpi: Pixels per inch of the image.

    Returns:
        The drawing, RGB uint8 ``(H, W, 3)``.

    Examples:
        >>> tree = ClassTree.from_dict({'A': ['C', 'D'], 'B': ['E', 'F']})
        >>> img = draw_tree(tree, highlight_path=[1, 5], out_file='t.png')
    """
    tree = ClassTree.build(tree)
    best = _expand(tree, highlight_path)
    others = [p for q in _as_path_list(other_paths) for p in q]
    layout = layout_tree(
        tree,
        best + others,
        max_nodes=max_nodes,
        use_display_names=use_display_names)
    top = 0.4 if title else 0.
    width, height = layout.size
    fig, ax = _inch_figure(width, height + top, dpi)
    if title:
        ax.text(
            MARGIN,
            0.25,
            title,
            fontsize=FONT_SIZE + 1,
            fontweight='bold',
            va='center')
    render_tree(ax, layout, best, others, offset=(0., top))
    return finish_figure(fig, out_file)


def _expand(tree: ClassTree, path: Optional[Union[PathLike,
                                                  int]]) -> List[int]:
    """Nodes of a path given as indices (or as its last node)."""
    if path is None:
        return []
    if np.ndim(path) == 0:
        return tree.path(int(path))
    nodes = [int(i) for i in np.asarray(path).reshape(-1) if int(i) >= 0]
    if nodes and not tree.is_valid_path(nodes):
        raise ValueError(f'highlight_path {nodes} is not a path of the '
                         f'tree (names {tree.decode(nodes)})')
    return nodes


def _inch_figure(width: float, height: float, dpi: int):
    """A figure whose single axes spans it with inch data units, y down."""
    from mmpretrain.visualization import create_figure
    fig = create_figure(figsize=(width, height), dpi=dpi)
    fig.patch.set_facecolor('white')
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis('off')
    return fig, ax


def finish_figure(fig, out_file: Optional[str] = None) -> np.ndarray:
    """Render a figure to an RGB array and optionally save it as an
    image."""
    from mmengine.visualization.utils import img_from_canvas
    fig.canvas.draw()
    img = img_from_canvas(fig.canvas)
    if out_file is not None:
        if osp.splitext(out_file)[1] == '':
            out_file = out_file + '.png'
        mmcv.imwrite(img[..., ::-1], out_file)
    return img
