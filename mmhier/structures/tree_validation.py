# Copyright (c) mmhier contributors. All rights reserved.
"""Checking the links of a class hierarchy before a ClassTree is built.

Every reader of a tree format turns its source into :class:`TreeEdge` s (a
child -> parent link and where it was read); :func:`resolve_dag` and
:func:`order_edges` check them and raise :class:`TreeError` naming the
file, the line and the cause.
"""
import logging
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple

from mmengine.logging import print_log

from .tree_constants import ROOT_NAME

DAG_RULES = (None, 'first')


class TreeError(ValueError):
    """A class hierarchy that cannot be built; the message names the cause."""


class TreeEdge:
    """One child -> parent link and where it was read, for error messages."""

    __slots__ = ('child', 'parent', 'where', 'display_name', 'id')

    def __init__(self,
                 child: str,
                 parent: Optional[str],
                 where: str,
                 display_name: Optional[str] = None,
                 id: Optional[str] = None):
        self.child = child
        self.parent = parent
        self.where = where
        self.display_name = display_name
        self.id = id


def order_edges(
    edges: List[TreeEdge], root_name: Optional[str], source: str
) -> Tuple[str, Optional[str], List[str], Dict[str, TreeEdge]]:
    """Check the links of a tree and order its nodes breadth first.

    Args:
        edges: The child -> parent links; a parent equal to ``root_name``
            or empty is normalised to ``None`` in place.
        root_name: Name of the root, or None to take it from the links.
        source: Name of the source, for error messages.

    Returns:
        ``(root_name, root_key, order, by_child)``: the root's name, the
        parent name the top-level links give (None when they leave it
        empty), the node names breadth first (children in order of
        appearance) and the link of each node.

    Raises:
        TreeError: an empty tree, a bad or duplicate name, a node that is
            its own parent, two roots, or a cycle.
    """
    if not edges:
        raise TreeError(f'{source}: the tree is empty (no node besides '
                        'the root)')
    by_child: Dict[str, TreeEdge] = {}
    for e in edges:
        if root_name is not None and e.parent == root_name:
            e.parent = None
        if not isinstance(e.child, str) or not e.child:
            raise TreeError(f'{source}, {e.where}: node name must be a '
                            f'non-empty string, got {e.child!r}')
        if e.parent == '':
            e.parent = None
        if e.parent is not None and e.parent == e.child:
            raise TreeError(f'{source}, {e.where}: node {e.child!r} is '
                            'its own parent')
        if e.child in by_child:
            first = by_child[e.child]
            raise TreeError(
                f'{source}, {e.where}: duplicate node {e.child!r} '
                f'(first defined at {first.where})')
        by_child[e.child] = e

    # The root: the parent named by top-level nodes. Either nodes leave
    # the parent empty (an unnamed root) or name a node that is nobody's
    # child; more than one of these is two roots.
    roots: 'OrderedDict[Optional[str], TreeEdge]' = OrderedDict()
    for e in edges:
        if e.parent is None:
            roots.setdefault(None, e)
        elif e.parent not in by_child:
            roots.setdefault(e.parent, e)
    if root_name is not None and root_name in by_child:
        raise TreeError(f'{source}: the root name {root_name!r} is also '
                        f'a node ({by_child[root_name].where})')
    if len(roots) > 1:
        listed = ', '.join(
            f'{"<empty>" if r is None else repr(r)} (e.g. at {e.where})'
            for r, e in roots.items())
        raise TreeError(
            f'{source}: the tree has {len(roots)} roots: {listed}. '
            'A parent that is not itself a node is taken as the root; '
            'check for misspelled or unknown parents.')
    if not roots:
        raise TreeError(f'{source}: every node has a parent, so the '
                        'hierarchy is a cycle: ' +
                        find_cycle(by_child, next(iter(by_child))))
    (root_key, _), = roots.items()
    if root_key is not None:
        root_name = root_key
    elif root_name is None:
        root_name = ROOT_NAME

    # Breadth-first order, children in order of appearance.
    children_of: Dict[Optional[str], List[str]] = {None: []}
    for e in edges:
        key = None if e.parent in (None, root_key) else e.parent
        children_of.setdefault(key, []).append(e.child)
    order: List[str] = []
    frontier = children_of[None]
    while frontier:
        order.extend(frontier)
        frontier = [c for n in frontier for c in children_of.get(n, ())]
    if len(order) != len(by_child):
        seen = set(order)
        lost = next(n for n in by_child if n not in seen)
        raise TreeError(f'{source}: not every node hangs below the root: '
                        + find_cycle(by_child, lost))
    return root_name, root_key, order, by_child


def resolve_dag(edges: List[TreeEdge],
                dag_rule: Optional[str],
                source: str,
                skip_subtrees: bool = False) -> List[TreeEdge]:
    """Apply ``dag_rule`` to nodes listed under several parents.

    With ``skip_subtrees`` (nested formats), a node met again also repeats
    its subtree; those repeated descendants are dropped with it.
    """
    if dag_rule not in DAG_RULES:
        raise ValueError(f'dag_rule must be one of {DAG_RULES}, got '
                         f'{dag_rule!r}')
    first: Dict[str, TreeEdge] = {}
    kept: List[TreeEdge] = []
    dropped: List[str] = []
    repeated_prefixes: List[str] = []
    for e in edges:
        if skip_subtrees and any(
                e.where.startswith(p) for p in repeated_prefixes):
            continue
        old = first.get(e.child)
        if old is None:
            first[e.child] = e
            kept.append(e)
            continue
        if old.parent == e.parent:
            kept.append(e)  # a true duplicate: order_edges reports it
            continue
        if dag_rule is None:
            raise TreeError(
                f'{source}, {e.where}: node {e.child!r} has a second '
                f'parent {e.parent!r} (first: {old.parent!r} at {old.where})'
                '. The hierarchy is a DAG, not a tree; pass '
                "dag_rule='first' to keep the first parent.")
        dropped.append(f'{e.child} <- {e.parent} ({e.where})')
        if skip_subtrees:
            repeated_prefixes.append(e.where + ' -> ')
    if dropped:
        print_log(
            f'{source}: dag_rule={dag_rule!r} kept the first parent of '
            f'{len(dropped)} node(s) listed under several parents; dropped '
            'links: ' + '; '.join(dropped[:20]) +
            (' ...' if len(dropped) > 20 else ''),
            logger='current',
            level=logging.WARNING)
    return kept


def find_cycle(by_child: Mapping[str, TreeEdge], start: str) -> str:
    """Follow parents from ``start`` until a node repeats; describe it."""
    seen: List[str] = []
    node: Optional[str] = start
    while node is not None and node in by_child and node not in seen:
        seen.append(node)
        node = by_child[node].parent
    if node is None or node not in seen:
        return f'node {start!r} does not reach the root'
    cycle = seen[seen.index(node):] + [node]
    return ('cycle ' + ' -> '.join(repr(c) for c in cycle) + ' (at ' +
            ', '.join(by_child[c].where for c in cycle[:-1]) + ')')
