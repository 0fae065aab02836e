# Copyright (c) mmhier contributors. All rights reserved.
"""The class hierarchy: the one source of truth every other part asks."""
import csv
import difflib
import json
import logging
import os
import os.path as osp
from collections import OrderedDict
from typing import (Any, Dict, Iterable, List, Mapping, Optional, Sequence,
                    Tuple, Union)

import numpy as np
import torch
from mmengine.logging import print_log

#: Padding of a path after its last node: the path stops here, the object IS
#: the previous node (an inner node in a general tree).
PATH_END = -1
#: Padding of a path whose lower levels are not annotated: we only know the
#: coarse part. Losses and metrics ignore these steps.
PATH_UNKNOWN = -2

ROOT_NAME = '__root__'
DAG_RULES = (None, 'first')
_FORMATS = {
    '.json': 'json',
    '.tsv': 'tsv',
    '.csv': 'csv',
    '.txt': 'paths',
}
# Keys of the Open Images hierarchy JSON that ClassTree reads and writes.
_OI_NAME, _OI_CHILDREN = 'LabelName', 'Subcategory'
_OI_DISPLAY, _OI_ID = 'DisplayName', 'Id'

Label = Union[int, str, Sequence[Union[int, str]]]


class TreeError(ValueError):
    """A class hierarchy that cannot be built; the message names the cause."""


class _Edge:
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


class ClassTree:
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
            _Edge(n, p, f'node {i}',
                  display_names[i] if display_names else None,
                  ids[i] if ids else None)
            for i, (n, p) in enumerate(zip(names, parents))
        ]
        self._build(edges, root_name, source='ClassTree(...)')

    # ------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------
    @classmethod
    def _new(cls, edges: List[_Edge], root_name: Optional[str],
             source: str) -> 'ClassTree':
        tree = cls.__new__(cls)
        tree._build(edges, root_name, source)
        return tree

    def _build(self, edges: List[_Edge], root_name: Optional[str],
               source: str) -> None:
        if not edges:
            raise TreeError(f'{source}: the tree is empty (no node besides '
                            'the root)')
        by_child: Dict[str, _Edge] = {}
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
        roots: 'OrderedDict[Optional[str], _Edge]' = OrderedDict()
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
                            _find_cycle(by_child, next(iter(by_child))))
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
                            + _find_cycle(by_child, lost))

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

    # ------------------------------------------------------------------
    # tensors for heads and metrics (cached per device)
    # ------------------------------------------------------------------
    def tensor(self, what: str, device: Union[str, torch.device] = 'cpu'):
        """A cached tensor view of ``parents``, ``depths`` or ``path_matrix``
        (or of the masks below) on ``device``."""
        key = (what, str(device))
        if key not in self._cache:
            if what in ('parents', 'depths', 'path_matrix', 'is_leaf'):
                value = torch.from_numpy(np.ascontiguousarray(
                    getattr(self, what)))
            else:
                value = getattr(self, f'_make_{what}')()
            self._cache[key] = value.to(device)
        return self._cache[key]

    def level_mask(self, device='cpu') -> torch.Tensor:
        """Bool ``(T, N)``: node j can appear at step t (depth t + 1)."""
        return self.tensor('level_mask', device)

    def child_mask(self, device='cpu') -> torch.Tensor:
        """Bool ``(N + 1, N)``: row i holds the children of node i, row N
        those of the root. Dense: for very large trees prefer
        :meth:`children_index`."""
        return self.tensor('child_mask', device)

    def children_index(self, device='cpu') -> torch.Tensor:
        """Long ``(N + 1, C)`` children of each node (row N: the root),
        padded with -1; C is the largest number of children."""
        return self.tensor('children_index', device)

    def level_widths(self) -> Tuple[int, ...]:
        """The most children a node of depth t has (the root's at t = 0,
        at least 1), for t = 0..T-1; plain ints, made once (the beam search
        sizes its steps with them without touching a tensor)."""
        key = ('level_widths', 'host')
        if key not in self._cache:
            n = self.num_nodes
            num_children = np.bincount(
                np.where(self.parents < 0, n, self.parents), minlength=n + 1)
            node_depth = np.append(self.depths, 0)
            self._cache[key] = tuple(
                max(int(num_children[node_depth == t].max()), 1)
                for t in range(self.max_depth))
        return self._cache[key]

    def ancestor_mask(self, device='cpu') -> torch.Tensor:
        """Bool ``(N, N)``: ``[i, j]`` is true when j is i or an ancestor of
        i (the root excluded). Dense, N^2 bytes."""
        return self.tensor('ancestor_mask', device)

    def _make_level_mask(self) -> torch.Tensor:
        d = torch.from_numpy(self.depths)
        return d[None, :] == torch.arange(1, self.max_depth + 1)[:, None]

    def _make_child_mask(self) -> torch.Tensor:
        n = self.num_nodes
        mask = torch.zeros(n + 1, n, dtype=torch.bool)
        rows = torch.from_numpy(np.where(self.parents < 0, n, self.parents))
        mask[rows, torch.arange(n)] = True
        return mask

    def _make_children_index(self) -> torch.Tensor:
        n = self.num_nodes
        counts = np.diff(self._child_start)
        rows = np.repeat(np.arange(n + 1), counts)
        col = np.arange(n) - np.repeat(self._child_start[:-1], counts)
        out = np.full((n + 1, max(int(counts.max()), 1)), -1, dtype=np.int64)
        out[rows, col] = self._child_order
        return torch.from_numpy(out)

    def _make_ancestor_mask(self) -> torch.Tensor:
        n = self.num_nodes
        mask = torch.zeros(n, n, dtype=torch.bool)
        pm = torch.from_numpy(self.path_matrix)
        rows = torch.arange(n)[:, None].expand_as(pm)
        keep = pm >= 0
        mask[rows[keep], pm[keep]] = True
        return mask

    # ------------------------------------------------------------------
    # building from sources
    # ------------------------------------------------------------------
    @classmethod
    def build(cls, cfg: Any, **kwargs) -> 'ClassTree':
        """Build from a ClassTree, a file path, a nested dict, an Open
        Images hierarchy dict (``{'LabelName': ..., 'Subcategory': [...]}``)
        or a ``dict(file=..., **load_kwargs)``."""
        if isinstance(cfg, ClassTree):
            return cfg
        if isinstance(cfg, (str, os.PathLike)):
            return cls.load(cfg, **kwargs)
        if isinstance(cfg, Mapping):
            if isinstance(cfg.get('file'), (str, os.PathLike)) and set(
                    cfg) <= {'file', 'fmt', 'dag_rule', 'relations'}:
                cfg = dict(cfg)
                return cls.load(cfg.pop('file'), **cfg, **kwargs)
            if isinstance(cfg.get(_OI_NAME), str):
                # An Open Images hierarchy already parsed (e.g. embedded in
                # an annotation file's metainfo).
                return cls.from_openimages(cfg, source='<hierarchy dict>',
                                           **kwargs)
            return cls.from_dict(cfg, **kwargs)
        raise TypeError('a class tree is given as a ClassTree, a file path '
                        f'or a nested dict, got {type(cfg).__name__}')

    @classmethod
    def from_edges(cls,
                   edges: Iterable[Union[Tuple[str, Optional[str]],
                                         Tuple[str, Optional[str], str]]],
                   root_name: Optional[str] = None,
                   dag_rule: Optional[str] = None,
                   source: str = '<edges>') -> 'ClassTree':
        """Build from ``(child, parent[, where])`` pairs.

        Args:
            edges: Child / parent names; ``where`` (e.g. ``'file:3'``) is
                used in error messages.
            root_name: Name of the root when top-level nodes have no parent.
            dag_rule: What to do with a node listed under two parents (a
                DAG, as in WordNet): ``None`` refuses it, ``'first'`` keeps
                the first parent and logs every dropped link.
            source: Name of the source, for error messages.
        """
        items = []
        for k, e in enumerate(edges):
            where = e[2] if len(e) > 2 else f'edge {k}'
            items.append(_Edge(e[0], e[1] or None, where))
        return cls._new(
            _resolve_dag(items, dag_rule, source), root_name, source)

    @classmethod
    def from_dict(cls, tree: Mapping, root_name: str = ROOT_NAME,
                  **kwargs) -> 'ClassTree':
        """Build from a nested dict ``{name: children}``, children being a
        dict, a list of names / dicts, or ``None`` / ``{}`` for a leaf."""
        if kwargs:
            raise TypeError(f'unexpected arguments {sorted(kwargs)}')
        edges: List[_Edge] = []

        def walk(children: Any, parent: Optional[str], where: str) -> None:
            if children is None:
                return
            if isinstance(children, Mapping):
                for name, sub in children.items():
                    edges.append(_Edge(name, parent, f'{where}/{name}'))
                    walk(sub, name, f'{where}/{name}')
            elif isinstance(children, (list, tuple)):
                for item in children:
                    if isinstance(item, Mapping):
                        walk(item, parent, where)
                    else:
                        edges.append(_Edge(item, parent, f'{where}/{item}'))
            else:
                raise TreeError(f'dict tree at {where or "/"}: children '
                                'must be a dict, a list or None, got '
                                f'{children!r}')

        walk(tree, None, '')
        return cls._new(edges, root_name, 'dict tree')

    def to_dict(self) -> Dict[str, Any]:
        """Nested ``{name: {child: {...}}}``; leaves map to ``{}``."""
        out: Dict[str, Any] = {}
        nodes: Dict[int, Dict[str, Any]] = {-1: out}
        for i, name in enumerate(self.names):  # BFS: parents come first
            nodes[i] = nodes[int(self.parents[i])].setdefault(name, {})
        return out

    @classmethod
    def from_paths(cls, lines: Iterable[str], sep: str = '/',
                   root_name: str = ROOT_NAME,
                   source: str = '<paths>') -> 'ClassTree':
        """Build from path strings ``'a/b/c'`` (one node chain each)."""
        edges: List[_Edge] = []
        seen: Dict[str, _Edge] = {}
        for lineno, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            parts = line.split(sep)
            where = f'line {lineno}'
            if any(not p.strip() for p in parts):
                raise TreeError(f'{source}, {where}: empty node name in '
                                f'path {line!r}')
            parent = None
            for part in (p.strip() for p in parts):
                old = seen.get(part)
                if old is None:
                    seen[part] = _Edge(part, parent, where)
                    edges.append(seen[part])
                elif old.parent != parent:
                    raise TreeError(
                        f'{source}, {where}: node {part!r} has parent '
                        f'{parent or root_name!r} here but '
                        f'{old.parent or root_name!r} at {old.where}')
                parent = part
        return cls._new(edges, root_name, source)

    def to_paths(self, sep: str = '/') -> List[str]:
        """One ``a/b/c`` line per leaf, depth first (keeps child order)."""
        bad = [n for n in self.names if sep in n]
        if bad:
            raise TreeError(f'node names {bad[:3]} contain {sep!r}; save '
                            'this tree as .json or .tsv instead')
        lines: List[str] = []
        stack = self.children(-1)[::-1]
        while stack:
            i = stack.pop()
            kids = self.children(i)
            if kids:
                stack.extend(kids[::-1])
            else:
                lines.append(sep.join(self.decode(self.path(i))))
        return lines

    @classmethod
    def from_openimages(cls,
                        data: Mapping,
                        relations: Sequence[str] = (_OI_CHILDREN, ),
                        dag_rule: Optional[str] = None,
                        source: str = '<json>') -> 'ClassTree':
        """Build from the Open Images nested hierarchy (already parsed)."""
        if not isinstance(data, Mapping) or _OI_NAME not in data:
            raise TreeError(f'{source}: the top object needs a '
                            f'{_OI_NAME!r} key (Open Images hierarchy '
                            'format)')
        edges: List[_Edge] = []
        stack = [(data, None, _OI_NAME)]
        while stack:
            node, parent, where = stack.pop()
            if not isinstance(node, Mapping) or _OI_NAME not in node:
                raise TreeError(f'{source}, {where}: expected an object '
                                f'with {_OI_NAME!r}, got {node!r:.80}')
            name = node[_OI_NAME]
            where = f'{where} -> {name}' if parent is not None else name
            if parent is not None:
                edges.append(
                    _Edge(name, parent, where, node.get(_OI_DISPLAY),
                          node.get(_OI_ID)))
            subs = []
            for rel in relations:
                subs.extend(node.get(rel) or [])
            stack.extend((s, name, where) for s in reversed(subs))
        edges = _resolve_dag(edges, dag_rule, source, skip_subtrees=True)
        return cls._new(edges, data[_OI_NAME], source)

    def to_openimages(self) -> Dict[str, Any]:
        """The Open Images nested hierarchy dict (keeps display names and
        ids)."""
        nodes: Dict[int, Dict[str, Any]] = {-1: {_OI_NAME: self.root_name}}
        for i, name in enumerate(self.names):
            item: Dict[str, Any] = {_OI_NAME: name}
            if self.display_names[i] != name:
                item[_OI_DISPLAY] = self.display_names[i]
            if self.ids[i] is not None:
                item[_OI_ID] = self.ids[i]
            nodes[i] = item
            nodes[int(self.parents[i])].setdefault(_OI_CHILDREN,
                                                   []).append(item)
        return nodes[-1]

    @classmethod
    def load(cls,
             file: Union[str, os.PathLike],
             fmt: Optional[str] = None,
             dag_rule: Optional[str] = None,
             relations: Sequence[str] = (_OI_CHILDREN, )) -> 'ClassTree':
        """Read a tree file; the format follows the extension unless
        ``fmt`` (``'json'``, ``'tsv'``, ``'csv'``, ``'paths'``) is given."""
        file = os.fspath(file)
        fmt = fmt or _FORMATS.get(osp.splitext(file)[1].lower())
        if fmt not in _FORMATS.values():
            raise TreeError(f'{file}: unknown tree format; use one of '
                            f'{sorted(_FORMATS)} or pass fmt=')
        if not osp.isfile(file):
            raise FileNotFoundError(f'class tree file {file} does not exist')
        try:
            with open(file, encoding='utf-8') as f:
                if fmt == 'json':
                    try:
                        data = json.load(f)
                    except json.JSONDecodeError as e:
                        raise TreeError(f'{file}:{e.lineno}: invalid JSON: '
                                        f'{e.msg}') from None
                    return cls.from_openimages(data, relations, dag_rule,
                                               file)
                if fmt == 'paths':
                    return cls.from_paths(f, source=file)
                return cls._from_parent_list(f, fmt, dag_rule, file)
        except UnicodeDecodeError as e:
            raise TreeError(f'{file}: not UTF-8 text (byte {e.start}: '
                            f'{e.reason})') from None
        except RecursionError:
            raise TreeError(f'{file}: the JSON is nested too deeply for '
                            "Python's parser") from None

    @classmethod
    def _from_parent_list(cls, f, fmt: str, dag_rule: Optional[str],
                          source: str) -> 'ClassTree':
        reader = csv.reader(f, delimiter='\t' if fmt == 'tsv' else ',')
        edges = []
        for lineno, row in enumerate(reader, 1):
            if not row or not ''.join(row).strip() or row[0].startswith('#'):
                continue
            row = [c.strip() for c in row]
            if lineno == 1 and row[:2] == ['child', 'parent']:
                continue  # header
            if len(row) < 2 or len(row) > 4:
                raise TreeError(
                    f'{source}:{lineno}: expected child, parent[, display '
                    f'name[, id]] separated by '
                    f'{"a tab" if fmt == "tsv" else "commas"}, got {row!r}')
            display = row[2] if len(row) > 2 and row[2] else None
            node_id = row[3] if len(row) > 3 and row[3] else None
            edges.append(
                _Edge(row[0], row[1] or None, f'line {lineno}', display,
                      node_id))
        return cls._new(_resolve_dag(edges, dag_rule, source), None, source)

    def save(self, file: Union[str, os.PathLike],
             fmt: Optional[str] = None) -> None:
        """Write the tree; :meth:`load` reads it back equal (``.txt`` keeps
        names only)."""
        file = os.fspath(file)
        fmt = fmt or _FORMATS.get(osp.splitext(file)[1].lower())
        if fmt not in _FORMATS.values():
            raise TreeError(f'{file}: unknown tree format; use one of '
                            f'{sorted(_FORMATS)} or pass fmt=')
        if osp.dirname(file):
            os.makedirs(osp.dirname(file), exist_ok=True)
        with open(file, 'w', encoding='utf-8', newline='') as f:
            if fmt == 'json':
                json.dump(self.to_openimages(), f, indent=1,
                          ensure_ascii=False)
                f.write('\n')
            elif fmt == 'paths':
                f.write('\n'.join(self.to_paths()) + '\n')
            else:
                writer = csv.writer(
                    f, delimiter='\t' if fmt == 'tsv' else ',',
                    lineterminator='\n')
                for i, name in enumerate(self.names):
                    p = int(self.parents[i])
                    row = [name, self.root_name if p < 0 else self.names[p]]
                    disp, node_id = self.display_names[i], self.ids[i]
                    if disp != name or node_id is not None:
                        row.append(disp)
                    if node_id is not None:
                        row.append(node_id)
                    writer.writerow(row)


def _resolve_dag(edges: List[_Edge],
                 dag_rule: Optional[str],
                 source: str,
                 skip_subtrees: bool = False) -> List[_Edge]:
    """Apply ``dag_rule`` to nodes listed under several parents.

    With ``skip_subtrees`` (nested formats), a node met again also repeats
    its subtree; those repeated descendants are dropped with it.
    """
    if dag_rule not in DAG_RULES:
        raise ValueError(f'dag_rule must be one of {DAG_RULES}, got '
                         f'{dag_rule!r}')
    first: Dict[str, _Edge] = {}
    kept: List[_Edge] = []
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
            kept.append(e)  # a true duplicate: _build reports it
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


def _find_cycle(by_child: Mapping[str, _Edge], start: str) -> str:
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
