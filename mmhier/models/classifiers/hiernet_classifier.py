# Copyright (c) mmhier contributors. All rights reserved.
"""HierNet: a CNN whose layers form a tree that follows the class tree.

Tempfli and Sandor, "HierNet: Image Recognition with Hierarchical
Convolutional Networks" (referred to below as "the paper").
"""
import copy
from collections import defaultdict
from typing import (Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union)

import numpy as np
import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmpretrain.models.classifiers import BaseClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmhier.structures import PATH_END, ClassTree, stack_gt_paths
from .backbone_split import cut_channels, split_backbone

EVAL_MODES = ('fast', 'slow', 'both')
ROOT = -1


class HierNetNodeClassifier(nn.Module):
    """The classifier ``c_i`` of one inner node (section 3.1 of the paper).

    ``c_i = softmax(W . pool(extra(x)) + b)``: optional extra backbone
    layers (section 3.3), global average pooling (``c_{i,1}``; inputs that
    are already flat pass through) and a linear layer with one output per
    child (``c_{i,2}``). The softmax (``c_{i,3}``) is left to the caller,
    which works in log space.

    Args:
        extra: The extra layers (an empty ``nn.Sequential`` for none).
        in_channels: Channels after ``extra``.
        num_children: Number of children of the node.
    """

    def __init__(self, extra: nn.Sequential, in_channels: int,
                 num_children: int):
        super().__init__()
        self.extra = extra
        self.fc = nn.Linear(in_channels, num_children)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.extra(x)
        if x.dim() > 2:
            x = x.flatten(2).mean(-1)
        return self.fc(x)


@MODELS.register_module()
class HierNetClassifier(BaseClassifier):
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
        self.boundaries = self._resolve_split_points(split_points)
        self.extra_layers = self._resolve_extra_layers(extra_layers)
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

    def _resolve_split_points(self, split_points) -> List[int]:
        """Boundaries ``b_0 = 0 <= b_1 <= ... <= b_T = K`` of the segments."""
        t, k = self.tree.max_depth, self.num_units
        points = list(split_points)
        if len(points) != t - 1:
            raise ValueError(
                f'split_points={split_points!r} has {len(points)} values, '
                f'but the tree has {t} levels and needs {t - 1} (one cut '
                'per level below the root)')
        cuts = []
        for i, p in enumerate(points):
            if isinstance(p, float):
                if not 0.0 <= p <= 1.0:
                    raise ValueError(
                        f'split_points[{i}]={p!r} is a float, so it must be '
                        'a fraction in [0, 1] of the backbone units')
                p = int(round(p * k))
            elif not isinstance(p, (int, np.integer)) or not 0 <= p <= k:
                raise ValueError(
                    f'split_points[{i}]={p!r} must be an int in 0..{k} (the '
                    f'backbone gives {k} units) or a fraction')
            cuts.append(int(p))
        bounds = [0] + cuts + [k]
        if any(a > b for a, b in zip(bounds, bounds[1:])):
            raise ValueError(f'split_points={split_points!r} (units {cuts}) '
                             'must be non-decreasing')
        return bounds

    def _resolve_extra_layers(self, extra_layers) -> List[int]:
        """Extra units per level ``0 .. T-1`` (the last level gets 0)."""
        t, k = self.tree.max_depth, self.num_units
        if isinstance(extra_layers, (int, np.integer)):
            extra = [int(extra_layers)] * (t - 1) + [0]
        else:
            extra = [int(e) for e in extra_layers]
            if len(extra) == t - 1:
                extra.append(0)
            if len(extra) != t or extra[-1] != 0:
                raise ValueError(
                    f'extra_layers={extra_layers!r} must be an int or give '
                    f'one value per level 0..{t - 2} (the {t - 1} levels '
                    'whose edges end before the last backbone layer)')
        for level, e in enumerate(extra):
            end = self.boundaries[level + 1]
            if e < 0 or end + e > k:
                raise ValueError(
                    f'extra_layers={extra_layers!r}: level {level} ends at '
                    f'unit {end} of {k}, so it can take 0..{k - end} extra '
                    f'units, got {e}')
        return extra

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

    @staticmethod
    def _key(v: int) -> str:
        return 'root' if v == ROOT else f'n{v}'

    # ------------------------------------------------------------------
    # initialisation and transfer
    # ------------------------------------------------------------------
    def _new_backbone(self) -> nn.Module:
        """A fresh, uninitialised backbone like the configured one."""
        if self._backbone_cfg is not None:
            return MODELS.build(copy.deepcopy(self._backbone_cfg))
        module = copy.deepcopy(self._backbone_proto[0])
        for m in module.modules():
            if hasattr(m, '_is_init'):
                m._is_init = False
        return module

    @staticmethod
    def _init_quietly(module: nn.Module) -> None:
        """``module.init_weights()`` without mmengine's per-parameter
        report (which a top-level call prints for every template)."""
        if not hasattr(module, 'init_weights'):
            return
        info = defaultdict(dict)
        for p in module.parameters():
            info[p]['init_info'] = 'backbone init (HierNet branch)'
            info[p]['tmp_mean_value'] = p.data.mean().cpu()
        for m in module.modules():
            m._params_init_info = info
        try:
            module.init_weights()
        finally:
            for m in module.modules():
                if hasattr(m, '_params_init_info'):
                    del m._params_init_info

    def _copy_from(self,
                   backbone: nn.Module,
                   owners: Optional[Sequence[str]] = None) -> None:
        """Copy the units of ``backbone`` into the slots of ``owners``
        (all slots when None)."""
        stem, units = split_backbone(backbone)
        with torch.no_grad():
            for owner, name, i in self._slots:
                if owners is not None and owner not in owners:
                    continue
                src = stem if i < 0 else units[i]
                self.get_submodule(name).load_state_dict(src.state_dict())

    def init_weights(self) -> None:
        """Initialise every copy of the backbone layers like the backbone.

        The trunk, each edge and each block of extra layers get their own
        freshly initialised backbone (its ``init_weights``: e.g. Kaiming and
        ``zero_init_residual`` for ResNet, or a ``Pretrained`` init_cfg of
        the backbone config). Then, with ``backbone_checkpoint``, the
        trained backbone is copied into all of them (transfer, section 5.4).
        A ``Pretrained`` ``init_cfg`` of the whole model wins over both.
        """
        super().init_weights()
        cfgs = self.init_cfg or []
        cfgs = [cfgs] if isinstance(cfgs, dict) else cfgs
        if any(c.get('type') == 'Pretrained' for c in cfgs):
            return
        owners = list(dict.fromkeys(o for o, _, _ in self._slots))
        for owner in owners:
            template = self._new_backbone()
            self._init_quietly(template)
            self._copy_from(template, owners=[owner])
        # mmengine's per-parameter report above predates these copies.
        print_log(
            f'HierNetClassifier: initialised {len(owners)} copies of the '
            'backbone layers (trunk, edges, extra layers) with the '
            "backbone's own init_weights",
            logger='current')
        if self.backbone_checkpoint is not None:
            self.load_backbone(self.backbone_checkpoint)
            print_log(
                'HierNetClassifier: copied the backbone of '
                f'{self.backbone_checkpoint} into the trunk and all '
                'branches',
                logger='current')

    def load_backbone(self,
                      source: Union[str, Mapping, nn.Module],
                      prefix: Optional[str] = None) -> None:
        """Copy a trained backbone into the trunk and every branch.

        Args:
            source: A checkpoint file (of a flat classifier or of the
                backbone), a state dict, or a backbone module.
            prefix: Prefix of the backbone keys; defaults to
                ``checkpoint_prefix``. Keys without it are used as they
                are when no key has it.

        Raises:
            ValueError: when the weights do not fit the backbone.
        """
        prefix = self.checkpoint_prefix if prefix is None else prefix
        where = source if isinstance(source, str) else type(source).__name__
        if isinstance(source, nn.Module):
            state = source.state_dict()
        elif isinstance(source, Mapping):
            state = source
        else:
            from mmengine.runner.checkpoint import _load_checkpoint
            ckpt = _load_checkpoint(source, map_location='cpu')
            state = ckpt.get('state_dict', ckpt)
        if prefix and any(k.startswith(prefix) for k in state):
            state = {
                k[len(prefix):]: v
                for k, v in state.items() if k.startswith(prefix)
            }
        template = self._new_backbone()
        try:
            template.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise ValueError(
                f'the backbone weights in {where} (prefix {prefix!r}) do not '
                f'fit the configured backbone: {e}') from None
        self._copy_from(template)

    # ------------------------------------------------------------------
    # the two forward passes
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
