# Copyright (c) mmhier contributors. All rights reserved.
from typing import Any, List, Optional, Sequence, Union

import torch.nn.functional as F
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from mmhier.structures import ClassTree
from ..utils.crm import crm_cost_matrix, crm_rank
from ..utils.tree_distance import resolve_label_nodes

DECODES = ('argmax', 'crm')


@MODELS.register_module()
class HierLinearClsHead(LinearClsHead):
    r"""mmpretrain's ``LinearClsHead`` over the N tree nodes, with an
    optional hierarchy-aware decision at test time.

    Training, parameters and checkpoints are those of ``LinearClsHead``
    (a flat baseline's checkpoint loads as is); only :meth:`predict`
    changes. With ``decode='crm'`` the prediction is the candidate of
    least expected tree distance under the softmax probabilities p
    (conditional risk minimisation, Karthik et al., ICLR 2021):

    .. math::
        \hat y = \arg\min_{c \in \mathcal{C}} \sum_j p_j \, D(j, c).

    Predictions (``decode='crm'``):

    - ``pred_score`` ``(N,)``: the softmax probabilities, unchanged;
    - ``pred_label``: the CRM choice (it need not be ``argmax pred_score``:
      mmpretrain's ``Accuracy``, which ranks ``pred_score``, still scores
      the argmax; mmhier's metrics read ``pred_path`` and the beam);
    - ``pred_path`` ``(T,)``: the path of ``pred_label``;
    - ``pred_beam_paths`` ``(K, T)`` and ``pred_beam_scores`` ``(K,)``: the
      K candidates of least expected cost, best first, and minus their
      expected cost (so higher is better, as for beam scores).

    With ``decode='argmax'`` it predicts exactly as ``LinearClsHead``.

    Args:
        num_classes: Must be N, the number of tree nodes.
        in_channels: Input features.
        tree: The class tree, anything :meth:`ClassTree.build` accepts.
        decode: ``'argmax'`` or ``'crm'``.
        candidates: Nodes CRM may predict (names or indices); ``None`` for
            the leaves. The variable-depth Fashion-MNIST tree needs its
            inner class 'Shirt' added.
        distance: The cost D: ``'edges'`` (number of edges between the two
            nodes) or ``'lca_height'`` (the distance of mmhier's
            ``MistakeSeverity``); the same decisions on fixed-depth trees.
        num_ranked: K, the candidates kept in ``pred_beam_paths`` (clipped
            to their number); ``MistakeSeverity(topk=(1, 5))`` needs 5.
        **kwargs: Passed to ``LinearClsHead`` (``loss``, ``topk``,
            ``init_cfg`` ...).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 tree: Any,
                 decode: str = 'argmax',
                 candidates: Optional[Sequence[Union[int, str]]] = None,
                 distance: str = 'edges',
                 num_ranked: int = 5,
                 **kwargs):
        super().__init__(num_classes, in_channels, **kwargs)
        self.tree = ClassTree.build(tree)
        if num_classes != self.tree.num_nodes:
            raise ValueError(
                f'num_classes={num_classes}, but the tree has '
                f'{self.tree.num_nodes} nodes: {type(self).__name__} scores '
                'every node (set num_classes to the number of nodes)')
        if decode not in DECODES:
            raise ValueError(f'decode must be one of {DECODES}, got '
                             f'{decode!r}')
        if not isinstance(num_ranked, int) or num_ranked < 1:
            raise ValueError(f'num_ranked must be an int >= 1, got '
                             f'{num_ranked!r}')
        self.decode = decode
        self.distance = distance
        nodes = resolve_label_nodes(self.tree, candidates, 'candidates')
        self.num_ranked = min(num_ranked, len(nodes))
        # not persistent: checkpoints stay those of LinearClsHead
        self.register_buffer('candidates', nodes, persistent=False)
        self.register_buffer(
            'crm_cost',
            crm_cost_matrix(self.tree, candidates, distance),
            persistent=False)
        self.register_buffer(
            'path_matrix',
            self.tree.tensor('path_matrix').clone(),
            persistent=False)

    def _get_predictions(
        self, cls_score: Tensor,
        data_samples: Optional[List[Optional[DataSample]]]
    ) -> List[DataSample]:
        if self.decode == 'argmax':
            return super()._get_predictions(cls_score, data_samples)
        scores = F.softmax(cls_score, dim=1).detach()
        nodes, cost = crm_rank(scores, self.crm_cost, self.candidates,
                               self.num_ranked)
        paths = self.path_matrix[nodes]  # (B, K, T)
        b = scores.size(0)
        if data_samples is None:
            data_samples = [None] * b
        if len(data_samples) != b:
            raise ValueError(f'got {len(data_samples)} data samples for a '
                             f'batch of {b}')
        out = []
        for i, sample in enumerate(data_samples):
            sample = DataSample() if sample is None else sample
            sample.set_pred_score(scores[i]).set_pred_label(nodes[i, :1])
            sample.set_field(paths[i, 0], 'pred_path')
            sample.set_field(paths[i], 'pred_beam_paths')
            sample.set_field(-cost[i], 'pred_beam_scores')
            out.append(sample)
        return out

    def extra_repr(self) -> str:
        return (f'decode={self.decode!r}, distance={self.distance!r}, '
                f'candidates={len(self.candidates)}')
