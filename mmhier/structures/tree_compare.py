# Copyright (c) mmhier contributors. All rights reserved.
"""Is the model's tree the dataset's tree? Node names, order and parents.

A model predicts node indices; the tree it was built with turns them into
names. A dataset whose tree lists the same names in another order (two
sibling leaves swapped) trains without an error and predicts wrong names,
so the trees are compared node by node, not only by size.
"""
from typing import Optional

from .class_tree import ClassTree, TreeError


class TreeMismatchError(TreeError):
    """Two trees that should be one differ; the message names both sources
    and the first difference."""


def _parent_name(tree: ClassTree, i: int) -> str:
    p = int(tree.parents[i])
    return '(root)' if p < 0 else repr(tree.names[p])


def _node_text(tree: ClassTree, i: int) -> str:
    return (f'{tree.names[i]!r} (depth {int(tree.depths[i])}, parent '
            f'{_parent_name(tree, i)})')


def first_tree_difference(a: ClassTree, b: ClassTree) -> Optional[str]:
    """The first difference between two trees, or ``None`` when their node
    names, order and parents are the same.

    Nodes are compared in index order (breadth first), so the first
    difference is the shallowest one. Display names, ids and the root's name
    do not count.

    Examples:
        >>> a = ClassTree.from_dict({'A': ['x', 'y']})
        >>> first_tree_difference(a, ClassTree.from_dict({'A': ['y', 'x']}))
        "node 1 is 'x' (depth 2, parent 'A') in the first tree but 'y' ..."
    """
    for i in range(min(a.num_nodes, b.num_nodes)):
        if a.names[i] != b.names[i]:
            where = ''
            if b.names[i] in a:
                where = (f'; the first tree has {b.names[i]!r} at index '
                         f'{a.index(b.names[i])}')
            return (f'node {i} is {_node_text(a, i)} in the first tree but '
                    f'{_node_text(b, i)} in the second{where}')
        if int(a.parents[i]) != int(b.parents[i]):
            return (f'node {i} ({a.names[i]!r}) has parent '
                    f'{_parent_name(a, i)} in the first tree but '
                    f'{_parent_name(b, i)} in the second')
    if a.num_nodes != b.num_nodes:
        longer, which = (a, 'first') if a.num_nodes > b.num_nodes else (
            b, 'second')
        i = min(a.num_nodes, b.num_nodes)
        return (f'the {which} tree has {longer.num_nodes - i} more node(s), '
                f'from node {i} {_node_text(longer, i)}')
    return None


def check_same_tree(a: ClassTree, b: ClassTree, source_a: str,
                    source_b: str) -> None:
    """Raise :class:`TreeMismatchError` unless ``a`` and ``b`` have the same
    node names, in the same order, with the same parents.

    Args:
        a: One tree.
        b: The other.
        source_a: Where ``a`` comes from, for the message (a file, a
            config key: ``"model.head.tree"``).
        source_b: Where ``b`` comes from.

    Raises:
        TreeMismatchError: naming both sources, their sizes and depths, and
            the first difference.

    Examples:
        >>> check_same_tree(model.head.tree, dataset.class_tree,
        ...                 'model.head.tree', 'train_dataloader.dataset')
    """
    diff = first_tree_difference(a, b)
    if diff is None:
        return
    raise TreeMismatchError(
        f'the class trees of {source_a} (first: {a.num_nodes} nodes, depth '
        f'{a.max_depth}) and {source_b} (second: {b.num_nodes} nodes, depth '
        f'{b.max_depth}) differ: {diff}. Node indices mean different classes '
        'in the two; build both from the same tree file')
