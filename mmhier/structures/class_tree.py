# Copyright (c) mmhier contributors. All rights reserved.
"""The class hierarchy: the one source of truth every other part asks."""
import difflib
from typing import (Any, Dict, Iterable, List, Optional, Sequence, Tuple,
                    Union)

import numpy as np
import torch

from .class_tree_formats import ClassTreeFormatsMixin
from .class_tree_tensors import ClassTreeTensorsMixin
from .tree_constants import PATH_END, PATH_UNKNOWN, ROOT_NAME
from .tree_validation import TreeEdge, TreeError, order_edges

__all__ = ['ClassTree', 'TreeError', 'PATH_END', 'PATH_UNKNOWN', 'ROOT_NAME']

Label = Union[int, str, Sequence[Union[int, str]]]


class ClassTree(ClassTreeFormatsMixin, ClassTreeTensorsMixin):
    """A tree of classes under one artificial root.

    The N non-root nodes are indexed ``0..N-1`` breadth first (all level-1
    nodes, then all level-2 nodes, ...), children in the order their source
    lists them. This is the encoding of the DHNN slides ("Encoding Label
    Paths": Root; A, B; C, D under A; E, F, G under B gives A=0, ..., G=6).
    A level-1 node has depth 1 and ``max_depth`` is T, the number of steps of
    the sequence heads; step ``t`` (0-based) predicts a node of depth
    ``t + 1``. A path is the list of node indices from level 1 down to a node,
    root excluded; in arrays it is padded to length T with :data:`PATH_END`.

    Build one with :meth:`build` (from a file, a nested dict or a tree),
    :meth:`load`, :meth:`from_dict`, :meth:`from_paths` or
    :meth:`from_edges`. Formats (:meth:`load` / :meth:`save`, by extension):

    - ``.json``: the Open Images hierarchy format, nested
      ``{"LabelName": ..., "Subcategory": [...]}``; the top object is the
      root. Optional ``DisplayName`` and ``Id`` keys are kept. Pass
      ``relations=('Subcategory', 'Part')`` to also follow has-a links.
    - ``.tsv`` / ``.csv``: a parent list, one ``child<TAB>parent`` line per
      node (optional third and fourth columns: display name, id). Top-level
      nodes name the root as parent, or leave the parent empty.
    - ``.txt``: one path ``a/b/c`` per line (names only).
    - a nested dict (configs): ``{'clothing': {'garment': ['shirt', 'coat']},
      'bag': {}}``.

    Args:
        names: The N non-root node names, any order.
        parents: Parent name of each node, ``None`` (or the root's name) for
            a level-1 node.
        root_name: Name of the root. Defaults to ``'__root__'``.
        display_names: Optional human-readable name of each node.
        ids: Optional external id of each node (a WordNet offset, an Open
            Images MID, ...).

    Examples:
        >>> tree = ClassTree.from_dict({'A': ['C', 'D'], 'B': ['E', 'F', 'G']})
        >>> tree.names
        ['A', 'B', 'C', 'D', 'E', 'F', 'G']
        >>> tree.encode('F'), tree.decode([1, 5])
        ([1, 5], ['B', 'F'])
    """

    def __init__(self,
                 names: Sequence[str],
                 parents: Sequence[Optional[str]],
                 root_name: str = ROOT_NAME,
                 display_names: Optional[Sequence[Optional[str]]] = None,
                 ids: Optional[Sequence[Optional[str]]] = None):
        if len(names) != len(parents):
            raise TreeError(f'got {len(names)} names but {len(parents)} '
                            'parents')
        edges = [
            TreeEdge(n, p, f'node {i}',
                     display_names[i] if display_names else None,
                     ids[i] if ids else None)
            for i, (n, p) in enumerate(zip(names, parents))
        ]
        self._build(edges, root_name, source='ClassTree(...)')

    # ------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------
    @classmethod
    def _new(cls, edges: List[TreeEdge], root_name: Optional[str],
             source: str) -> 'ClassTree':
        tree = cls.__new__(cls)
        tree._build(edges, root_name, source)
        return tree

    def _build(self, edges: List[TreeEdge], root_name: Optional[str],
               source: str) -> None:
        root_name, root_key, order, by_child = order_edges(
            edges, root_name, source)
        self.root_name: str = root_name
        self.names: List[str] = order
        self._index: Dict[str, int] = {n: i for i, n in enumerate(order)}
        self.display_names: List[str] = [
            by_child[n].display_name or n for n in order
        ]
        self.ids: List[Optional[str]] = [by_child[n].id for n in order]
        n = len(order)
        parents = np.full(n, -1, dtype=np.int64)
        for i, name in enumerate(order):
            p = by_child[name].parent
            if p is not None and p != root_key:
                parents[i] = self._index[p]
        self.parents: np.ndarray = parents
        self._finalise()

    def _finalise(self) -> None:
        """Derive depths, levels, leaves and the path matrix (vectorised)."""
        n = len(self.names)
        parents = self.parents
        depths = np.zeros(n, dtype=np.int64)
        # BFS order puts parents first, so one pass per level suffices.
        top = parents < 0
        depths[top] = 1
        level = np.flatnonzero(top)
        levels = []
        while level.size:
            levels.append(level)
            is_child = np.isin(parents, level)
            level = np.flatnonzero(is_child)
            depths[level] = len(levels) + 1
        self.depths: np.ndarray = depths
        self.levels: List[np.ndarray] = levels
        self.max_depth: int = len(levels)
        # Children in CSR form: those of node i (row n: the root) are
        # _child_order[_child_start[i]:_child_start[i + 1]], in index order.
        rows = np.where(parents < 0, n, parents)
        self._child_order = np.argsort(rows, kind='stable')
        counts = np.bincount(rows, minlength=n + 1)
        self._child_start = np.concatenate([[0], np.cumsum(counts)])
        num_children = counts[:n]
        self.num_children: np.ndarray = num_children
        self.is_leaf: np.ndarray = num_children == 0
        self.leaves: np.ndarray = np.flatnonzero(self.is_leaf)
        self.is_fixed_depth: bool = bool(
            (depths[self.leaves] == self.max_depth).all())
        paths = np.full((n, self.max_depth), PATH_END, dtype=np.int64)
        for d, nodes in enumerate(levels):
            if d:
                paths[nodes, :d] = paths[parents[nodes], :d]
            paths[nodes, d] = nodes
        self.path_matrix: np.ndarray = paths
        self._cache: Dict[Tuple[str, str], torch.Tensor] = {}

    # ------------------------------------------------------------------
    # basic queries
    # ------------------------------------------------------------------
    @property
    def num_nodes(self) -> int:
        """N, the number of non-root nodes."""
        return len(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: str) -> bool:
        return name in self._index

    def __eq__(self, other: Any) -> bool:
        return (isinstance(other, ClassTree)
                and self.root_name == other.root_name
                and self.names == other.names
                and np.array_equal(self.parents, other.parents)
                and self.display_names == other.display_names
                and self.ids == other.ids)

    def __repr__(self) -> str:
        per_level = [len(lv) for lv in self.levels]
        kind = 'fixed' if self.is_fixed_depth else 'variable'
        return (f'ClassTree(num_nodes={self.num_nodes}, '
                f'max_depth={self.max_depth} ({kind}), '
                f'nodes_per_level={per_level}, leaves={len(self.leaves)})')

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state['_cache'] = {}  # device tensors are rebuilt on demand
        return state

    def index(self, name: str) -> int:
        """Index of the node called ``name``.

        Raises:
            KeyError: naming the unknown node and the closest known names.
        """
        try:
            return self._index[name]
        except (KeyError, TypeError):
            lower = {n.lower(): n for n in self.names}
            close = [
                lower[c] for c in difflib.get_close_matches(
                    str(name).lower(), list(lower), n=3)
            ]
            hint = f'; did you mean {close}?' if close else ''
            raise KeyError(f'unknown node {name!r} (the tree has '
                           f'{self.num_nodes} nodes){hint}') from None

    def name(self, index: int) -> str:
        return self.names[self._check_index(index)]

    def _check_index(self, index: int) -> int:
        if not 0 <= int(index) < self.num_nodes:
            raise IndexError(f'node index {index} is outside 0..'
                             f'{self.num_nodes - 1}')
        return int(index)

    def parent(self, node: Union[int, str]) -> int:
        """Index of the parent, -1 for a level-1 node."""
        return int(self.parents[self._node(node)])

    def children(self, node: Union[int, str, None] = -1) -> List[int]:
        """Child indices of a node; ``-1`` or ``None`` for the root."""
        i = self.num_nodes if node is None or (
            not isinstance(node, str) and node == -1) else self._node(node)
        lo, hi = self._child_start[i], self._child_start[i + 1]
        return self._child_order[lo:hi].tolist()

    def _node(self, node: Union[int, str]) -> int:
        if isinstance(node, str):
            return self.index(node)
        return self._check_index(node)

    # ------------------------------------------------------------------
    # paths
    # ------------------------------------------------------------------
    def path(self, node: Union[int, str]) -> List[int]:
        """The path to ``node``: indices from level 1 down, root excluded."""
        i = self._node(node)
        return self.path_matrix[i, :self.depths[i]].tolist()

    def encode(self, label: Label) -> List[int]:
        """Encode a label into its path of node indices.

        Args:
            label: A node index, a node name, a path string ``'a/b/c'`` or a
                sequence of names / indices from level 1 down.

        Returns:
            list[int]: the path, root excluded.

        Raises:
            KeyError: an unknown node name.
            ValueError: a sequence that is not a path in the tree.
        """
        if isinstance(label, (int, np.integer)):
            return self.path(int(label))
        if isinstance(label, str):
            if label in self._index:
                return self.path(label)
            if '/' not in label:
                self.index(label)  # raises with a hint
            label = [p for p in label.split('/') if p]
        if not isinstance(label, Sequence) or not len(label):
            raise ValueError(f'cannot encode {label!r}: give a node, a name '
                             "or a non-empty path such as 'a/b/c'")
        path = [self._node(x) for x in label]
        if not self.is_valid_path(path):
            names = [self.names[i] for i in path]
            raise ValueError(f'{"/".join(names)} is not a path of the tree: '
                             f'the path to {names[-1]!r} is '
                             f'{"/".join(self.decode(self.path(path[-1])))}')
        return path

    def decode(self, path: Iterable[int]) -> List[str]:
        """Names along a path; padding (negative values) is skipped."""
        return [self.names[int(i)] for i in path if int(i) >= 0]

    def is_valid_path(self, path: Iterable[int],
                      allow_unknown: bool = False) -> bool:
        """Whether ``path`` (optionally padded) is a root-to-node path."""
        p = torch.as_tensor(list(path), dtype=torch.long)
        if p.numel() > self.max_depth:
            return False
        if p.numel() < self.max_depth:
            pad = p.new_full((self.max_depth - p.numel(), ), PATH_END)
            p = torch.cat([p, pad])
        return bool(self.valid_paths(p, allow_unknown=allow_unknown))

    def valid_paths(self,
                    paths: torch.Tensor,
                    allow_unknown: bool = False) -> torch.Tensor:
        """Vectorised validity of padded paths.

        A valid path is non-empty, starts at level 1, each node is a child of
        the previous one, and after its last node holds only ``PATH_END``
        (or only ``PATH_UNKNOWN`` when ``allow_unknown``).

        Args:
            paths: Long tensor ``(..., T)``.
            allow_unknown: Accept ``PATH_UNKNOWN`` padding (coarse-only
                ground truth).

        Returns:
            Bool tensor ``(...)``.
        """
        paths = torch.as_tensor(paths)
        if paths.shape[-1] != self.max_depth:
            raise ValueError(f'paths have length {paths.shape[-1]}, the '
                             f'tree has depth {self.max_depth}')
        parents = self.tensor('parents', paths.device)
        is_node = (paths >= 0) & (paths < self.num_nodes)
        pad_ok = paths == PATH_END
        if allow_unknown:
            pad_ok = pad_ok | (paths == PATH_UNKNOWN)
        # Once padding starts it goes on, and all padding has one value.
        ended = torch.cummax((~is_node).long(), dim=-1).values.bool()
        shape_ok = (is_node | pad_ok).all(-1) & ~(ended & is_node).any(-1)
        shape_ok = shape_ok & (paths[..., 0] >= 0)
        pad_val = torch.where(ended, paths, paths.new_full((), PATH_END))
        same_pad = (pad_val == pad_val.min(-1, keepdim=True).values) | ~ended
        shape_ok = shape_ok & same_pad.all(-1)
        safe = paths.clamp(0, self.num_nodes - 1)
        prev = torch.cat(
            [paths.new_full(paths.shape[:-1] + (1, ), -1), paths[..., :-1]],
            dim=-1)
        link_ok = (parents[safe] == prev) | ~is_node
        return shape_ok & link_ok.all(-1)

    def lca_depth(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Depth of the lowest common ancestor of nodes ``a`` and ``b``.

        0 means the root; ``lca_depth(i, i) == depth(i)``. Broadcasts.
        """
        pm = self.tensor('path_matrix', torch.as_tensor(a).device)
        pa, pb = pm[torch.as_tensor(a)], pm[torch.as_tensor(b)]
        same = (pa == pb) & (pa >= 0)
        return torch.cumprod(same.long(), dim=-1).sum(-1)
