# Copyright (c) mmhier contributors. All rights reserved.
"""The tensor views of a ClassTree that heads and metrics use."""
from typing import Tuple, Union

import numpy as np
import torch

from .tree_constants import PATH_END


class ClassTreeTensorsMixin:
    """Cached tensors of a :class:`ClassTree`, made once per device.

    Expects the attributes :class:`ClassTree` sets: ``parents``,
    ``depths``, ``path_matrix``, ``is_leaf``, ``max_depth``, the CSR
    children ``_child_start`` / ``_child_order`` and the ``_cache`` dict.
    """

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

    def level_shape(self) -> Tuple[bool, Tuple[bool, ...]]:
        """Host facts that let the beam search skip work, made once:
        whether the root's children are nodes ``0..C_0-1`` in order, and
        for t = 0..T-1 whether every node of depth t has exactly ``C_t``
        children (no padding in ``children_index[:, :C_t]``)."""
        key = ('level_shape', 'host')
        if key not in self._cache:
            n, widths = self.num_nodes, self.level_widths()
            children = self._make_children_index().numpy()
            node_depth = np.append(self.depths, 0)
            root = children[n, :widths[0]]
            full = tuple(
                bool((children[node_depth == t, :w] >= 0).all())
                for t, w in enumerate(widths))
            self._cache[key] = (bool(
                (root == np.arange(len(root))).all()), full)
        return self._cache[key]

    def ancestor_mask(self, device='cpu') -> torch.Tensor:
        """Bool ``(N, N)``: ``[i, j]`` is true when j is i or an ancestor of
        i (the root excluded). Dense, N^2 bytes."""
        return self.tensor('ancestor_mask', device)

    def _make_children_safe(self) -> torch.Tensor:
        """:meth:`children_index` with the padding pointing at node 0
        (masked by ``children_valid``), for gathers."""
        return self._make_children_index().clamp(min=0)

    def _make_children_valid(self) -> torch.Tensor:
        return self._make_children_index() >= 0

    def _make_end_path_matrix(self) -> torch.Tensor:
        """``path_matrix`` with a row N (the root) of ``PATH_END``: the
        path of "no node"."""
        pm = torch.from_numpy(np.ascontiguousarray(self.path_matrix))
        return torch.cat([pm, pm.new_full((1, pm.size(1)), PATH_END)])

    def _make_teacher_inputs(self) -> torch.Tensor:
        """Long ``(N + 1, T + 1)``: the decoder inputs that teacher-force
        the path to node j (row N: no node), the start token N first and
        in place of ``PATH_END``."""
        pm = self._make_end_path_matrix()
        pm = torch.cat([pm.new_full((pm.size(0), 1), PATH_END), pm], 1)
        return pm.masked_fill(pm < 0, self.num_nodes)

    def _make_node_or_end(self) -> torch.Tensor:
        """Long ``(N + 1,)``: node j for j < N, ``PATH_END`` for N."""
        out = torch.arange(self.num_nodes + 1)
        out[-1] = PATH_END
        return out

    def _make_every_node(self) -> torch.Tensor:
        """Bool ``(N,)``, all true."""
        return torch.ones(self.num_nodes, dtype=torch.bool)

    def _make_root_index(self) -> torch.Tensor:
        """Long ``(1, 1)``: the root's row N."""
        return torch.full((1, 1), self.num_nodes, dtype=torch.long)

    def _make_step_of_node(self) -> torch.Tensor:
        """Long ``(1, 1, N)``: the step (depth - 1) of each node."""
        return torch.from_numpy(self.depths - 1).long()[None, None]

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
