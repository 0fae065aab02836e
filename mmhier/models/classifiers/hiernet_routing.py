# Copyright (c) mmhier contributors. All rights reserved.
"""HierNet's two forward passes and the routes through its tree.

Section 3.2 and Algorithm 1 of the paper: the slow pass runs every branch
on the whole batch, the fast pass routes greedily and runs each branch on
its own samples only.
"""
from typing import Dict, Optional, Tuple

import torch

from mmhier.structures import PATH_END

#: The key of the root among HierNet's inner nodes.
ROOT = -1


class HierNetRoutingMixin:
    """Forward passes, node probabilities and routes of
    :class:`HierNetClassifier`.

    Expects the attributes the classifier builds: ``tree``, ``trunk``,
    ``edges``, ``classifiers``, ``inner_nodes``, ``leaf_nodes``,
    ``_children`` and the ``_cond_perm`` buffer.
    """

    @staticmethod
    def _key(v: int) -> str:
        return 'root' if v == ROOT else f'n{v}'

    def slow_forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Run every branch on the whole batch.

        Args:
            inputs: Images ``(B, C, H, W)``.

        Returns:
            Tensor: ``(B, N)`` conditional log-probabilities: column ``j``
            is ``log c_{parent(j)}(j)``, the log-softmax of the router of
            ``j``'s parent.
        """
        feats = {ROOT: self.trunk(inputs)}
        pieces = []
        for v in self.inner_nodes:
            x = feats.pop(v)
            pieces.append(
                self.classifiers[self._key(v)](x).float().log_softmax(-1))
            for c in self._children[v]:
                if not self.tree.is_leaf[c]:
                    feats[c] = self.edges[self._key(c)](x)
        cond = torch.cat(pieces, dim=1)
        return cond[:, self._cond_perm]

    def fast_forward(
            self, inputs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Route greedily, running each branch only on its samples.

        Algorithm 1 of the paper, batched: at each level the samples at a
        node are sorted by their chosen child and cut into one chunk per
        child (``torch.split``); each child's edge runs on its chunk only.

        Args:
            inputs: Images ``(B, C, H, W)``.

        Returns:
            tuple: ``route`` (long ``(B, T)``, padded with ``PATH_END``) and
            ``cond`` (``(B, N)``, as :meth:`slow_forward` for the children
            of the nodes on each route, ``-inf`` elsewhere).
        """
        x = self.trunk(inputs)
        b, device = x.shape[0], x.device
        cond = torch.full((b, self.tree.num_nodes),
                          float('-inf'),
                          device=device)
        route = torch.full((b, self.tree.max_depth),
                           PATH_END,
                           dtype=torch.long,
                           device=device)
        kids = self.tree.children_index(device)  # (N + 1, C), row N: root
        frontier = [(ROOT, torch.arange(b, device=device), x)]
        for t in range(self.tree.max_depth):
            next_frontier = []
            for v, idx, feat in frontier:
                children = self._children[v]
                ch = kids[v, :len(children)]  # v = -1 is the root's row
                logp = self.classifiers[self._key(v)](feat).float() \
                    .log_softmax(-1)
                cond[idx[:, None], ch[None, :]] = logp
                choice = logp.argmax(-1)
                route[idx, t] = ch[choice]
                if self.tree.is_leaf[children].all():
                    continue
                # One gather puts each child's samples next to each other;
                # the chunks are then views.
                order = torch.argsort(choice, stable=True)
                counts = torch.bincount(
                    choice, minlength=len(children)).tolist()
                chunks = zip(children, counts, idx[order].split(counts),
                             feat[order].split(counts))
                for c, n_c, sub_idx, sub_feat in chunks:
                    if n_c == 0 or self.tree.is_leaf[c]:
                        continue
                    next_frontier.append(
                        (c, sub_idx, self.edges[self._key(c)](sub_feat)))
            frontier = next_frontier
            if not frontier:
                break
        return route, cond

    # ------------------------------------------------------------------
    # probabilities and routes from conditional log-probabilities
    # ------------------------------------------------------------------
    def node_log_probs(self, cond: torch.Tensor) -> torch.Tensor:
        """``log P(v)`` of every node: the sum of ``cond`` along its path.

        Eq. of section 3.2 of the paper in log space:
        ``log P(v) = sum_{u on path(v)} log c_{parent(u)}(u)``.

        Args:
            cond: ``(B, N)`` conditional log-probabilities.

        Returns:
            Tensor: ``(B, N)``; ``-inf`` where a factor was not computed.
        """
        pm = self.tree.tensor('path_matrix', cond.device)  # (N, T)
        steps = cond[:, pm.clamp(min=0)]  # (B, N, T)
        return torch.where(pm >= 0, steps, steps.new_zeros(())).sum(-1)

    def greedy_route(self, cond: torch.Tensor) -> torch.Tensor:
        """The greedy route through ``cond`` (Algorithm 1), ``(B, T)``."""
        b, device = cond.shape[0], cond.device
        kids = self.tree.children_index(device)  # (N + 1, C)
        cur = torch.full((b, ), self.tree.num_nodes, device=device)
        route = torch.full((b, self.tree.max_depth),
                           PATH_END,
                           dtype=torch.long,
                           device=device)
        for t in range(self.tree.max_depth):
            options = kids[cur]  # (B, C)
            valid = options >= 0
            score = cond.gather(1, options.clamp(min=0))
            score = score.masked_fill(~valid, float('-inf'))
            best = options.gather(1, score.argmax(1, keepdim=True))[:, 0]
            alive = valid.any(1)
            route[:, t] = torch.where(alive, best, route[:, t])
            cur = torch.where(alive, best, cur)
        return route

    def _fast_from_cond(
            self, cond: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The fast evaluation read from a slow pass: the greedy route and
        ``cond`` restricted to what the fast pass computes."""
        route = self.greedy_route(cond)
        b, n = cond.shape
        on_route = torch.zeros(b, n + 1, dtype=torch.bool, device=cond.device)
        on_route[:, n] = True  # the root
        on_route.scatter_(1, torch.where(route >= 0, route, n), True)
        parents = self.tree.tensor('parents', cond.device)
        parents = torch.where(parents >= 0, parents, n)
        keep = on_route[:, parents]
        return route, cond.masked_fill(~keep, float('-inf'))

    def _summarise(self, route: Optional[torch.Tensor],
                   cond: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Path, label, path score and node scores of one evaluation.

        ``route=None`` (slow): the path of the most probable leaf.
        """
        logp = self.node_log_probs(cond)
        if route is None:
            leaves = torch.as_tensor(self.leaf_nodes, device=logp.device)
            label = leaves[logp[:, leaves].argmax(1)]
            path = self.tree.tensor('path_matrix', logp.device)[label]
        else:
            path = route
            depth = (route >= 0).sum(1)
            label = route.gather(1, (depth - 1).clamp(min=0)[:, None])[:, 0]
        return dict(
            path=path,
            label=label,
            path_score=logp.gather(1, label[:, None])[:, 0],
            score=logp.exp())
