# Copyright (c) mmhier contributors. All rights reserved.
"""Packing the predictions of the hierarchical heads into DataSamples."""
from typing import Dict, List, Optional, Tuple

import torch
from mmpretrain.structures import DataSample
from torch import Tensor

from ..utils import BeamSearchResult, select_label_nodes, topk_label_paths


class HierHeadOutputsMixin:
    """Beam sizes and the DataSample fields of a :class:`BaseHierHead`
    (the fields are listed in its docstring).

    Expects the attributes :class:`BaseHierHead` sets: ``tree``,
    ``num_nodes``, ``beam_size`` and ``threshold``, and its
    :meth:`~BaseHierHead.can_stop`.
    """

    def _stop_nodes(self) -> Tuple[int, Tuple[int, ...]]:
        """How many nodes may end a path, and their depths: host values of
        :meth:`can_stop`, made once (no sync, nothing to trace per step)."""
        stop = getattr(self, '_stop_nodes_cache', None)
        if stop is None:
            mask = self.can_stop('cpu').numpy().astype(bool)
            stop = (int(mask.sum()),
                    tuple(sorted({int(d)
                                  for d in self.tree.depths[mask]})))
            self._stop_nodes_cache = stop
        return stop

    def effective_beam_size(self) -> int:
        """k clipped to the number of nodes that may end a path."""
        return min(self.beam_size, self._stop_nodes()[0])

    def stop_depths(self) -> Tuple[int, ...]:
        """Depths of the nodes that may end a path (for the beam search,
        known on the host)."""
        return self._stop_nodes()[1]

    def pack_single_label(
        self, beams: BeamSearchResult, node_scores: Tensor,
        data_samples: Optional[List[Optional[DataSample]]]
    ) -> List[DataSample]:
        """DataSamples from a beam search (softmax heads).

        Args:
            beams: The search result, ``(B, K, T)`` paths; without its
                ``node_scores`` the best path's level scores are read from
                ``node_scores``.
            node_scores: ``(B, N)`` probability of each node at its step
                (along the best path's prefixes where that matters).
            data_samples: Samples to fill, or ``None``.
        """
        paths, scores = beams.paths, beams.scores
        b, n = paths.size(0), self.num_nodes
        last = beams.last  # N where a slot holds no path
        if last is None:
            lengths = (paths >= 0).sum(-1)  # (B, K)
            last = paths.gather(-1, (lengths - 1).clamp(min=0)[..., None])
            label = last[:, 0, 0]  # PATH_END where a path is empty
            last = torch.where(torch.isfinite(scores), last[..., 0], n)
        else:  # PATH_END where the best slot holds no path
            label = self.tree.tensor('node_or_end', paths.device)[last[:, 0]]
        pred_score = node_scores.new_zeros(b, n + 1)
        # A node ends at most one path, so scatter does not collide; a slot
        # with no path scores exp(-inf) = 0 in the dropped column N.
        pred_score.scatter_(1, last, scores.exp().to(pred_score.dtype))
        best = paths[:, 0]
        if beams.node_scores is None:  # the best path rescored: node_scores
            level = node_scores.gather(1, best.clamp(min=0))
        else:
            level = beams.node_scores[:, 0].exp()
        level = torch.where(best >= 0, level, 0.)
        fields = dict(
            pred_path=paths[:, 0],
            pred_path_score=scores[:, 0],
            pred_level_scores=level,
            pred_beam_paths=paths,
            pred_beam_scores=scores,
            pred_score=pred_score[:, :-1],
            pred_node_score=node_scores)
        return self._to_data_samples(fields, label, data_samples)

    def pack_multi_label(
        self, node_scores: Tensor,
        data_samples: Optional[List[Optional[DataSample]]]
    ) -> List[DataSample]:
        """DataSamples from sigmoid node scores (multi-label heads).

        The selected paths (``pred_paths``) are those whose node scores are
        all ``>= self.threshold`` (only the deepest, see
        :func:`select_label_nodes`); ``pred_path`` and the beam are the best
        paths by minimum node score, computed exactly from the scores.
        """
        device = node_scores.device
        can_stop = self.can_stop(device)
        pm = self.tree.tensor('path_matrix', device)
        scores, last = topk_label_paths(
            node_scores,
            self.tree,
            self.effective_beam_size(),
            can_stop,
            num_stop=self._stop_nodes()[0])
        paths = pm[last]  # (B, K, T)
        best = paths[:, 0]
        level = torch.where(best >= 0,
                            node_scores.gather(1, best.clamp(min=0)), 0.)
        selected = select_label_nodes(node_scores, self.tree, self.threshold,
                                      can_stop)
        fields = dict(
            pred_path=best,
            pred_path_score=scores[:, 0],
            pred_level_scores=level,
            pred_beam_paths=paths,
            pred_beam_scores=scores,
            pred_score=node_scores,
            pred_node_score=node_scores)
        # The selected nodes first, in node order (a stable sort keeps it):
        # each sample's pred_paths is then a slice of one fixed-shape tensor,
        # cut by a count read back with the paths, not a boolean index (one
        # host sync per sample).
        order = torch.sort(
            (~selected).to(torch.uint8), dim=1, stable=True).indices
        ragged = dict(pred_paths=(pm[order], selected.sum(-1)))
        return self._to_data_samples(fields, last[:, 0], data_samples, ragged)

    def _to_data_samples(
        self,
        fields: Dict[str, Tensor],
        label: Tensor,
        data_samples: Optional[List[Optional[DataSample]]],
        ragged: Optional[Dict[str, Tuple[Tensor, Tensor]]] = None
    ) -> List[DataSample]:
        """Set the fields on the data samples.

        Args:
            fields: ``(B, ...)`` tensors; sample i gets row i of each.
            label: ``(B,)`` ``pred_label``.
            data_samples: Samples to fill, or ``None``.
            ragged: ``{name: (values (B, M, ...), counts (B,))}``: sample i
                gets ``values[i, :counts[i]]``.

        The names of ``pred_path`` and the ragged counts are read back
        together, the one host sync of ``predict``.
        """
        b = label.size(0)
        if data_samples is None:
            data_samples = [None] * b
        if len(data_samples) != b:
            raise ValueError(f'got {len(data_samples)} data samples for a '
                             f'batch of {b}')
        fields = {k: v.detach() for k, v in fields.items()}
        label = label.detach()
        ragged = ragged or {}
        t = fields['pred_path'].size(1)
        host = fields['pred_path']
        if ragged:
            host = torch.cat(
                [host] + [c.detach()[:, None] for _, c in ragged.values()], 1)
        host = host.tolist()
        names = [self.tree.decode(row[:t]) for row in host]
        out = []
        for i, sample in enumerate(data_samples):
            sample = DataSample() if sample is None else sample
            for key, value in fields.items():
                if key == 'pred_score':
                    sample.set_pred_score(value[i])
                else:
                    sample.set_field(value[i], key)
            sample.set_pred_label(label[i:i + 1])
            sample.set_field(names[i], 'pred_path_names')
            for j, (key, (values, _)) in enumerate(ragged.items()):
                sample.set_field(values[i, :host[i][t + j]].detach(), key)
            out.append(sample)
        return out


__all__ = ['HierHeadOutputsMixin']
