# Copyright (c) mmhier contributors. All rights reserved.
"""A trained model as one traceable module, for ONNX and ``torch.export``.

:class:`HierExportWrapper` takes a batch of raw images and returns the top-k
label paths as tensors, with the data preprocessor's normalisation and the
tree-constrained beam search inside, so that an exported graph needs no
Python, no DataSample and no ClassTree at run time. See
docs/deployment.md for what it covers and what cannot be exported.
"""
from typing import Any, Optional, Tuple, Union

import torch
from mmengine.model import BaseModel
from mmpretrain.models.heads import LinearClsHead
from torch import Tensor, nn

from mmhier.models.heads import (HierJointHead, HierLinearClsHead,
                                 HierRNNHead, HierS2SHead)
from mmhier.models.utils import crm_rank
from mmhier.structures import ClassTree

__all__ = ['HierExportWrapper', 'EXPORTABLE_HEADS', 'load_export_wrapper']

#: the heads :class:`HierExportWrapper` knows how to export
EXPORTABLE_HEADS = ('HierRNNHead', 'HierS2SHead', 'HierJointHead',
                    'LinearClsHead', 'HierLinearClsHead')


def _head_kind(model: nn.Module) -> str:
    """``'rnn'``, ``'s2s'``, ``'joint'``, ``'flat'`` or ``'flat_crm'``;
    raises ``ValueError`` naming what cannot be exported."""
    head = getattr(model, 'head', None)
    name = type(head).__name__ if head is not None else type(model).__name__
    if head is None or not all(
            hasattr(model, part) for part in ('backbone', 'extract_feat')):
        raise ValueError(
            f'cannot export {type(model).__name__}: only an ImageClassifier '
            f'with one of the heads {EXPORTABLE_HEADS} is exportable (see '
            'docs/deployment.md; HierNet routes each image through a '
            'data-dependent branch)')
    if getattr(head, 'multi_label', False):
        raise ValueError(
            f'cannot export the multi-label {name}: its prediction is the '
            'set of paths above a threshold, of a size that depends on the '
            'image (see docs/deployment.md)')
    if isinstance(head, HierRNNHead):
        return 'rnn'
    if isinstance(head, HierS2SHead):
        return 's2s'
    if isinstance(head, HierJointHead):
        return 'joint'
    if isinstance(head, HierLinearClsHead) and head.decode == 'crm':
        return 'flat_crm'
    # subclasses of LinearClsHead may decode otherwise: only these two
    if type(head) in (LinearClsHead, HierLinearClsHead):
        return 'flat'
    raise ValueError(f'cannot export a model with head {name}: the '
                     f'exportable heads are {EXPORTABLE_HEADS} (see '
                     'docs/deployment.md)')


class HierExportWrapper(nn.Module):
    """Images in, the top-k label paths and their scores out.

    ``forward(images)`` runs, in one graph: the normalisation of the
    model's data preprocessor (``to_rgb`` channel flip, ``(x - mean) /
    std``), the backbone and neck, and the head's decoding:

    - ``HierRNNHead``: the tree beam search on the per-level softmax;
    - ``HierS2SHead``: the tree beam search through the decoder (each
      hypothesis fed its own node), or on the free run with
      ``decoder_input='softmax'``;
    - ``HierJointHead``: the fused scores of every label node's path,
      ranked (or CRM-ranked with ``decode='crm'``);
    - a flat ``LinearClsHead`` over the N tree nodes: the k most probable
      nodes and their root-to-node paths (DHNN Remark 1);
      ``HierLinearClsHead(decode='crm')``: the k CRM candidates.

    The beam is as wide as :class:`HierInferencer` makes it for ``topk``
    (``max(beam_size, topk)``), so the exported paths are those of
    ``model.predict`` with that beam. Shapes depend only on the batch size,
    k and the tree depth T.

    Args:
        model: A built mmpretrain ``ImageClassifier`` (weights loaded).
        tree: The class tree of the model (for flat models, whose head has
            none); defaults to ``model.head.tree``.
        topk: k, the number of paths per image.

    Returns of ``forward``:
        tuple: ``paths`` long ``(B, k, T)``, node indices from level 1 down,
        padded with ``PATH_END`` (-1); ``scores`` float ``(B, k)``, best
        first: the log-probability of each path (for the softmax heads and
        flat models; ``-inf`` marks a slot no path fills), or, for CRM
        decoding, minus the expected tree distance.

    Examples:
        >>> wrapper = HierExportWrapper(model, topk=3).eval()
        >>> paths, scores = wrapper(images)  # raw pixels, (B, C, H, W)
    """

    def __init__(self, model: BaseModel, tree: Any = None, topk: int = 5):
        super().__init__()
        if not isinstance(topk, int) or isinstance(topk, bool) or topk < 1:
            raise ValueError(f'topk must be an int >= 1, got {topk!r}')
        self.kind = _head_kind(model)
        head = model.head
        if tree is None:
            tree = getattr(head, 'tree', None)
            if tree is None:
                raise ValueError(
                    f'{type(head).__name__} has no class tree: pass tree=... '
                    '(the one of the checkpoint, which maps its classes to '
                    'paths)')
        self.tree = ClassTree.build(tree)
        self.model = model
        self.topk = topk
        # a host int, counted before any tracing
        num_paths = self.num_paths = self._num_label_nodes()
        if topk > num_paths:
            raise ValueError(
                f'topk={topk}, but {type(head).__name__} can predict only '
                f'{num_paths} distinct paths of this tree')
        if self.kind.startswith('flat'):
            num_classes = head.num_classes
            if num_classes != self.tree.num_nodes:
                raise ValueError(
                    f'the flat head predicts {num_classes} classes but the '
                    f'class tree has {self.tree.num_nodes} nodes: paths are '
                    'implied only from a score for every tree node (DHNN '
                    'Remark 1)')
            self.register_buffer(
                'path_matrix',
                self.tree.tensor('path_matrix').clone(),
                persistent=False)
        pre = model.data_preprocessor
        normalize = getattr(pre, '_enable_normalize', False)
        self.to_rgb = bool(getattr(pre, 'to_rgb', False))
        mean = pre.mean.detach().clone() if normalize else None
        std = pre.std.detach().clone() if normalize else None
        self.register_buffer('mean', mean, persistent=False)
        self.register_buffer('std', std, persistent=False)

    @property
    def beam_size(self) -> int:
        """The beam of the search: as wide as ``HierInferencer`` makes it
        for ``topk``, clipped to the paths the head can end."""
        head = self.model.head
        return min(max(head.beam_size, self.topk), self.num_paths)

    def _num_label_nodes(self) -> int:
        head = self.model.head
        if self.kind == 'flat':
            return head.num_classes
        if self.kind == 'flat_crm':
            return len(head.candidates)
        if self.kind == 'joint':
            return len(head.label_nodes)
        # nodes that may end a path, read once on the host (not traced)
        return int(head.can_stop('cpu').sum())

    def normalize(self, images: Tensor) -> Tensor:
        """The data preprocessor's ``to_rgb`` flip and ``(x - mean) / std``
        (without its padding: images come at the pipeline's size)."""
        x = images.float()
        if self.to_rgb and x.size(1) == 3:
            x = x.flip(1)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return x

    def forward(self, images: Tensor) -> Tuple[Tensor, Tensor]:
        """Top-k paths ``(B, k, T)`` and scores ``(B, k)`` of raw images
        ``(B, C, H, W)`` (pixel values as the pipeline gives them)."""
        feats = self.model.extract_feat(self.normalize(images))
        head, k = self.model.head, self.topk
        if self.kind == 'flat':
            logp = head(feats).log_softmax(-1)
            scores, nodes = logp.topk(k, dim=-1)
            return self.path_matrix[nodes], scores
        if self.kind == 'flat_crm':
            probs = head(feats).softmax(-1)
            nodes, cost = crm_rank(probs, head.crm_cost, head.candidates, k)
            return self.path_matrix[nodes], -cost
        if self.kind == 'joint':
            return head.rank_paths(head.fused_log_probs(feats), k)
        # the CNN-RNN and the CNN-S2S: the head's own tree beam search
        beams = head.beam_search(feats, self.beam_size)
        return beams.paths[:, :k], beams.scores[:, :k]


def load_export_wrapper(config: Any,
                        checkpoint: str,
                        topk: int = 5,
                        tree: Any = None,
                        device: Union[str, torch.device] = 'cpu',
                        cfg_options: Optional[dict] = None
                        ) -> HierExportWrapper:
    """Build the model of ``config``, load ``checkpoint`` and wrap it.

    The tree is resolved as :class:`HierInferencer` does it (the ``tree``
    argument, the checkpoint's ``dataset_meta``, the head, the config), so
    a flat model's classes map to the paths of the tree it was trained on.

    Args:
        config: A config file or :class:`mmengine.Config`.
        checkpoint: The checkpoint file.
        topk: k.
        tree: Overrides the class tree.
        device: Where the model runs.
        cfg_options: Overrides merged into the config.

    Returns:
        HierExportWrapper: in eval mode.

    Raises:
        FileNotFoundError: naming a missing config or checkpoint.
        ValueError: for a model that cannot be exported.
    """
    import os.path as osp

    from mmengine.config import Config

    from .hier_inferencer import HierInferencer
    if isinstance(config, str) and not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint file not found: {checkpoint}')
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    inferencer = HierInferencer(
        cfg, pretrained=checkpoint, device=device, tree=tree)
    model = inferencer.model
    return HierExportWrapper(model, inferencer.tree, topk).eval()
