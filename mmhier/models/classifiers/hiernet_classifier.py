# Copyright (c) mmhier contributors. All rights reserved.
"""HierNet: a CNN whose layers form a tree that follows the class tree.

Tempfli and Sandor, "HierNet: Image Recognition with Hierarchical
Convolutional Networks" (referred to below as "the paper").
"""
import copy
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmpretrain.models.classifiers import BaseClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmhier.structures import ClassTree, stack_gt_paths
from .backbone_split import cut_channels, split_backbone
from .hiernet_layout import resolve_extra_layers, resolve_split_points
from .hiernet_node_classifier import HierNetNodeClassifier
from .hiernet_routing import ROOT, HierNetRoutingMixin
from .hiernet_weight_transfer import HierNetWeightTransferMixin

EVAL_MODES = ('fast', 'slow', 'both')


@MODELS.register_module()
class HierNetClassifier(HierNetRoutingMixin, HierNetWeightTransferMixin,
                        BaseClassifier):
    """HierNet: a tree of backbone layers with a classifier in every node.

    The class tree (classes at the leaves) becomes the network (section 3.1
    of the paper). The backbone is cut into ``T`` consecutive segments
    (``T`` = the depth of the tree) at ``split_points``. Segment 0 (with the
    stem) is the trunk, computed once; every inner node below the root
    gets its own copy of the next segment(s) as its incoming edge. Every
    inner node, the root included, has a :class:`HierNetNodeClassifier`
    over its children. So any root-to-leaf route applies exactly the
    backbone's layers, in order, and then a small classifier.

    General trees (leaves at different depths) are supported: the edges are
    aligned to the leaves, i.e. an inner node whose subtree has height
    ``h`` (its deepest leaf is ``h`` levels below it) ends its edge at the
    end of segment ``T - h``. A node whose children are all leaves thus
    always sees the backbone's last feature map; a leaf that hangs off a
    higher node (next to inner siblings) is decided on earlier features.
    For a fixed-depth tree this is the paper's rule: every edge at one level
    has the same operations.

    Training (section 3.2) multiplies each node's softmax output by the
    route probabilities of its ancestors::

        P(v) = prod_{u on the path to v} c_{parent(u)}(u)    (section 3.2)

    and minimises ``-log P(gt leaf)`` (the categorical cross-entropy of the
    concatenated leaf outputs). Ground truth comes from ``gt_path`` (or,
    without it, ``gt_label`` as a node index), so the "reordering of the
    labels to the leaf order" of the paper is the tree's node indexing; the
    leaf order is :attr:`leaf_nodes` and :attr:`leaf_position` maps back.
    A path that ends at an inner node (coarse label) or holds
    ``PATH_UNKNOWN`` steps is trained on ``-log P(last known node)``.

    Evaluation (section 5.2):

    - ``'slow'``: every branch runs on the whole batch; ``pred_score`` is
      ``P(v)`` for every node (the leaves sum to 1); ``pred_path`` is the
      path of the most probable leaf.
    - ``'fast'``: route greedily (Algorithm 1). The trunk runs once; at
      each level the batch is sorted by the chosen child and each branch
      runs only on its chunk (a loop over tree nodes, never over samples),
      so the work per sample is one backbone plus the node classifiers on
      its route. ``pred_path`` is the route; ``pred_score`` holds ``P(v)``
      for the nodes on the route and their siblings (the only ones whose
      probability is computed) and 0 elsewhere. The saving is in
      computation; on a GPU the chunks are smaller batches (and the split
      sizes need one host sync per routing node), so the wall-clock gain
      over ``'slow'`` is smaller than the saved work when routes spread.
    - ``'both'``: one slow pass; the fast route is read from the same
      router outputs (in eval mode a branch's output for a sample does not
      depend on the rest of the batch, so this equals the fast pass).

    The plain fields of docs/design.md (``pred_path``, ``pred_score``,
    ``pred_label``, ``pred_path_score``) hold the evaluation named by
    ``eval_mode`` (with ``'both'``: by ``main_eval``); the metrics read
    them. With ``eval_mode='both'`` each evaluation is also written to
    suffixed fields: ``pred_path_fast``, ``pred_score_fast``,
    ``pred_label_fast`` (a 0-d tensor), ``pred_path_score_fast`` and the
    same with ``_slow``. ``pred_path_score`` is ``log P(pred_label)``.
    Predictions are returned on the CPU.

    Args:
        tree: The class tree, anything :meth:`ClassTree.build` accepts.
        backbone: The backbone config (or module). Supported backbones are
            listed in :mod:`mmhier.models.classifiers.backbone_split`:
            mmpretrain ResNet / ResNet_CIFAR (units = residual blocks),
            VGG / LeNet5 / AlexNet (units = modules of ``features``), an
            ``nn.Sequential`` (units = children) or a module with
            ``hiernet_split()``.
        split_points: ``T - 1`` cut positions, one per level below the
            root, non-decreasing, each an int (the number of units before
            the cut, the stem not counted) or a float in ``[0, 1]`` (a
            fraction of the units, rounded). E.g. for a two-level tree on
            ResNet-56 (27 blocks) the paper's ``[16]``: trunk = stem + 16
            blocks, each group edge = the other 11.
        extra_layers: Extra backbone units before the classifier of each
            inner node (section 3.3): the units that follow the node's edge
            in the backbone. An int for every level that can have them, or
            one int per level ``0 .. T-2`` (nodes whose edge ends the
            backbone cannot have any). Defaults to 0.
        eval_mode: ``'fast'``, ``'slow'`` or ``'both'``. Defaults to
            ``'both'``.
        main_eval: Which evaluation fills the plain fields when
            ``eval_mode='both'``. Defaults to ``'slow'``.
        backbone_checkpoint: A checkpoint of a trained flat model (or of the
            backbone) to copy into the trunk and every branch in
            :meth:`init_weights` (the paper's transfer learning). Defaults
            to None.
        checkpoint_prefix: Prefix of the backbone keys in that checkpoint.
            Defaults to ``'backbone.'`` (an mmpretrain ImageClassifier).
        loss_weight: Weight of the loss. Defaults to 1.
        data_preprocessor: As for ``ImageClassifier`` (type defaults to
            ``ClsDataPreprocessor``).
        init_cfg: Initialisation config of the whole model.

    Examples:
        >>> model = MODELS.build(dict(
        ...     type='HierNetClassifier',
        ...     tree={'animal': ['cat', 'dog'], 'vehicle': ['car', 'bus']},
        ...     backbone=dict(type='ResNet_CIFAR', depth=18),
        ...     split_points=[6], extra_layers=1))
        >>> logp = model(torch.rand(2, 3, 32, 32))  # (2, 6) log P(v)
        >>> out = model.predict(torch.rand(2, 3, 32, 32), eval_mode='fast')
    """

    def __init__(self,
                 tree: Any,
                 backbone: Union[dict, nn.Module],
                 split_points: Sequence[Union[int, float]] = (),
                 extra_layers: Union[int, Sequence[int]] = 0,
                 eval_mode: str = 'both',
                 main_eval: str = 'slow',
                 backbone_checkpoint: Optional[str] = None,
                 checkpoint_prefix: str = 'backbone.',
                 loss_weight: float = 1.0,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = {}
        if isinstance(data_preprocessor, dict):
            data_preprocessor = dict(data_preprocessor)
            data_preprocessor.setdefault('type', 'ClsDataPreprocessor')
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            init_cfg=init_cfg, data_preprocessor=data_preprocessor)

        self.tree = ClassTree.build(tree)
        self.eval_mode = self._check_mode(eval_mode, EVAL_MODES, 'eval_mode')
        self.main_eval = self._check_mode(main_eval, ('fast', 'slow'),
                                          'main_eval')
        self.backbone_checkpoint = backbone_checkpoint
        self.checkpoint_prefix = checkpoint_prefix
        self.loss_weight = loss_weight

        if isinstance(backbone, nn.Module):
            # A pristine copy to re-initialise branches from; a tuple is
            # not registered as a submodule.
            self._backbone_cfg = None
            self._backbone_proto = (copy.deepcopy(backbone), )
        else:
            self._backbone_cfg = copy.deepcopy(dict(backbone))
            backbone = MODELS.build(backbone)
        stem, units = split_backbone(backbone)
        self.num_units = len(units)
        self._build_structure()
        self.boundaries = resolve_split_points(split_points,
                                               self.tree.max_depth,
                                               self.num_units)
        self.extra_layers = resolve_extra_layers(extra_layers,
                                                 self.tree.max_depth,
                                                 self.num_units,
                                                 self.boundaries)
        channels = cut_channels(stem, units)
        self._build_network(stem, units, channels)

    # ------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------
    @staticmethod
    def _check_mode(value: str, allowed: Sequence[str], name: str) -> str:
        if value not in allowed:
            raise ValueError(f'{name} must be one of {list(allowed)}, got '
                             f'{value!r}')
        return value

    def _build_structure(self) -> None:
        """Inner nodes, children, levels and the leaf order."""
        tree = self.tree
        n, depth = tree.num_nodes, tree.max_depth
        # Height of each node (0 for a leaf); parents come before children
        # in the breadth-first index, so one backward pass suffices.
        height = np.zeros(n + 1, dtype=np.int64)  # slot n: the root
        for v in range(n - 1, -1, -1):
            p = tree.parents[v] if tree.parents[v] >= 0 else n
            height[p] = max(height[p], height[v] + 1)
        #: Inner nodes in breadth-first order, the root (-1) first.
        self.inner_nodes: List[int] = [ROOT] + [
            int(v) for v in np.flatnonzero(~tree.is_leaf)
        ]
        self._children: Dict[int, List[int]] = {
            v: tree.children(v)
            for v in self.inner_nodes
        }
        # Segment whose end feeds the node's classifier (leaf-aligned).
        self._level: Dict[int, int] = {
            v: depth - int(height[n if v == ROOT else v])
            for v in self.inner_nodes
        }
        #: Leaf node indices in tree order: the paper's concatenated output.
        self.leaf_nodes: np.ndarray = tree.leaves
        #: Position of each node among the leaves (-1 for inner nodes).
        self.leaf_position: np.ndarray = np.full(n, -1, dtype=np.int64)
        self.leaf_position[tree.leaves] = np.arange(len(tree.leaves))
        # Column permutation from the concatenated router outputs (inner
        # nodes in order, children in order) to node indices.
        order = np.concatenate([self._children[v] for v in self.inner_nodes])
        self.register_buffer(
            '_cond_perm',
            torch.from_numpy(np.argsort(order)),
            persistent=False)

    def _build_network(self, stem: Optional[nn.Module], units: List[nn.Module],
                       channels: List[int]) -> None:
        b = self.boundaries
        # Which backbone unit each copied module holds, for transfer:
        # (owner, qualified name, unit index or -1 for the stem).
        self._slots: List[Tuple[str, str, int]] = []
        trunk = [] if stem is None else [stem]
        if stem is not None:
            self._slots.append(('trunk', 'trunk.0', -1))
        for i in range(b[1]):
            self._slots.append(('trunk', f'trunk.{len(trunk)}', i))
            trunk.append(units[i])
        self.trunk = nn.Sequential(*trunk)

        self.edges = nn.ModuleDict()
        self.classifiers = nn.ModuleDict()
        for v in self.inner_nodes:
            key = self._key(v)
            level = self._level[v]
            if v != ROOT:
                parent = int(self.tree.parents[v])
                start = b[self._level[parent] + 1]
                self.edges[key] = self._copy_units(units, start, b[level + 1],
                                                   f'edges.{key}')
            end = b[level + 1]
            stop = end + self.extra_layers[level]
            if channels[stop] is None:
                raise ValueError(
                    f'cannot read the number of channels after unit {stop} '
                    'of the backbone (no conv, norm or linear layer before '
                    f'it) for the classifier of level {level}; move the '
                    'split point')
            extra = self._copy_units(units, end, stop,
                                     f'classifiers.{key}.extra')
            self.classifiers[key] = HierNetNodeClassifier(
                extra, channels[stop], len(self._children[v]))

    def _copy_units(self, units, start: int, stop: int,
                    owner: str) -> nn.Sequential:
        for j, i in enumerate(range(start, stop)):
            self._slots.append((owner, f'{owner}.{j}', i))
        return nn.Sequential(
            *[copy.deepcopy(units[i]) for i in range(start, stop)])

    # ------------------------------------------------------------------
    # forward (the two passes: HierNetRoutingMixin)
    # ------------------------------------------------------------------
    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """The trunk's output, shared by all branches."""
        return self.trunk(inputs)

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """``'tensor'``: ``log P(v)`` of every node, ``(B, N)`` (slow);
        ``'loss'``: a loss dict; ``'predict'``: DataSamples."""
        if mode == 'tensor':
            return self.node_log_probs(self.slow_forward(inputs))
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    # ------------------------------------------------------------------
    # loss and predict
    # ------------------------------------------------------------------
    def _gt_paths(self, data_samples: List[DataSample],
                  device: torch.device) -> torch.Tensor:
        """``(B, T)`` ground-truth paths (first path of each sample)."""
        if all('gt_path' in ds for ds in data_samples):
            paths = stack_gt_paths(data_samples, device)[:, 0]
        else:
            labels = torch.cat([
                torch.as_tensor(ds.gt_label).view(-1)[:1]
                for ds in data_samples
            ]).to(device)
            bad = (labels < 0) | (labels >= self.tree.num_nodes)
            if bad.any():
                raise ValueError(
                    f'gt_label {labels[bad][0].item()} of sample '
                    f'{int(bad.nonzero()[0])} is not a node index of the '
                    f'tree (0..{self.tree.num_nodes - 1}); pack gt_path '
                    'with PackHierInputs')
            paths = self.tree.tensor('path_matrix', device)[labels]
        if paths.shape[-1] != self.tree.max_depth:
            raise ValueError(f'gt_path has {paths.shape[-1]} steps but the '
                             f'tree has depth {self.tree.max_depth}')
        ok = self.tree.valid_paths(paths, allow_unknown=True)
        if not ok.all():
            i = int((~ok).nonzero()[0])
            raise ValueError(f'gt_path {paths[i].tolist()} of sample {i} '
                             'is not a path of the tree')
        return paths

    def loss(self, inputs: torch.Tensor,
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """``-log P(gt)``, P the product of route probabilities (sec. 3.2).

        Returns:
            dict: ``loss``.
        """
        cond = self.slow_forward(inputs)
        gt = self._gt_paths(data_samples, cond.device)
        known = gt >= 0  # PATH_END and PATH_UNKNOWN steps add nothing
        picked = cond.gather(1, gt.clamp(min=0))
        nll = -torch.where(known, picked, picked.new_zeros(())).sum(1)
        num = known.any(1).sum().clamp(min=1)
        return dict(loss=self.loss_weight * nll.sum() / num)

    def predict(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[DataSample]] = None,
                eval_mode: Optional[str] = None) -> List[DataSample]:
        """Predict paths with the fast and/or slow evaluation.

        Args:
            inputs: Images ``(B, C, H, W)``.
            data_samples: DataSamples to fill; new ones when None.
            eval_mode: Overrides :attr:`eval_mode` for this call.

        Returns:
            list[DataSample]: with the fields described in the class
            docstring.
        """
        mode = self._check_mode(eval_mode or self.eval_mode, EVAL_MODES,
                                'eval_mode')
        results = {}
        if mode == 'fast':
            results['fast'] = self._summarise(*self.fast_forward(inputs))
        else:
            cond = self.slow_forward(inputs)
            results['slow'] = self._summarise(None, cond)
            if mode == 'both':
                results['fast'] = self._summarise(*self._fast_from_cond(cond))
        main = self.main_eval if mode == 'both' else mode

        batch = inputs.shape[0]
        if data_samples is None:
            data_samples = [DataSample() for _ in range(batch)]
        # One transfer per field; the per-sample packing below then touches
        # only CPU tensors (metrics move predictions to the CPU anyway).
        results = {
            m: {
                k: v.detach().cpu()
                for k, v in r.items()
            }
            for m, r in results.items()
        }
        for i, ds in enumerate(data_samples):
            if mode == 'both':
                for m, r in results.items():
                    for k, v in r.items():
                        ds.set_field(v[i], f'pred_{k}_{m}')
            r = results[main]
            ds.set_pred_score(r['score'][i])
            ds.set_pred_label(r['label'][i])
            ds.set_field(r['path'][i], 'pred_path')
            ds.set_field(r['path_score'][i], 'pred_path_score')
        return data_samples
