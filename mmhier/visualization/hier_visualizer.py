# Copyright (c) mmhier contributors. All rights reserved.
from typing import Optional, Sequence

import mmcv
import numpy as np
from mmengine.dist import master_only
from mmpretrain.registry import VISUALIZERS
from mmpretrain.structures import DataSample
from mmpretrain.visualization import UniversalVisualizer

from mmhier.evaluation.functional import get_gt_paths, sample_topk_paths
from mmhier.structures import ClassTree
from .prediction_drawing import draw_hier_prediction

__all__ = ['HierVisualizer']


@VISUALIZERS.register_module()
class HierVisualizer(UniversalVisualizer):
    """mmpretrain's visualizer that also draws predicted label paths.

    :meth:`visualize_hier` draws an image with its top-k paths (best first,
    with their scores), its ground-truth paths when the sample has them,
    and optionally the class tree with the paths highlighted (see
    :func:`~mmhier.visualization.draw_hier_prediction`). The paths are read
    off the :class:`DataSample` like the metrics read them: ``pred_beam_paths``
    of the hierarchical heads, else ``pred_path``, else the paths implied by
    the best nodes of a flat model's ``pred_score`` (DHNN Remark 1).

    Set ``visualizer = dict(type='HierVisualizer')`` in a config and
    mmpretrain's ``VisualizationHook`` (``tools/test.py --show-dir``) draws
    paths instead of flat labels: :meth:`visualize_cls` hands over to
    :meth:`visualize_hier` whenever a class tree is known, from
    ``dataset_meta['class_tree']`` (the Runner sets it from the dataset) or
    from ``tree``.

    Args:
        name: Instance name. Defaults to ``'visualizer'``.
        tree: The class tree, anything :meth:`ClassTree.build` accepts;
            ``None`` to read it from ``dataset_meta``.
        topk: How many paths to list. Defaults to 3.
        draw_tree: Add the drawing of the tree. Defaults to False.
        **kwargs: Arguments of :class:`UniversalVisualizer`.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 tree=None,
                 topk: int = 3,
                 draw_tree: bool = False,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.tree = None if tree is None else ClassTree.build(tree)
        if not isinstance(topk, int) or topk < 1:
            raise ValueError(f'topk must be an int >= 1, got {topk!r}')
        self.topk = topk
        self.draw_tree = bool(draw_tree)

    def get_tree(self, tree=None) -> Optional[ClassTree]:
        """The tree given, else ``self.tree``, else ``dataset_meta``'s."""
        if tree is not None:
            return ClassTree.build(tree)
        if self.tree is not None:
            return self.tree
        meta_tree = (self.dataset_meta or {}).get('class_tree')
        return None if meta_tree is None else ClassTree.build(meta_tree)

    @master_only
    def visualize_hier(self,
                       image: np.ndarray,
                       data_sample: DataSample,
                       tree=None,
                       topk: Optional[int] = None,
                       draw_gt: bool = True,
                       draw_tree: Optional[bool] = None,
                       title: Optional[str] = None,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       name: str = '',
                       step: int = 0) -> np.ndarray:
        """Draw an image with the predicted paths of its data sample.

        Args:
            image: The image, RGB ``(H, W, 3)`` or grey ``(H, W)``.
            data_sample: Its prediction (and optionally ``gt_path``).
            tree: The class tree; defaults to :meth:`get_tree`.
            topk: How many paths; defaults to ``self.topk``. Fewer are drawn
                when the sample has fewer.
            draw_gt: List the ground-truth paths (``gt_path``, or the path of
                ``gt_label``) when present.
            draw_tree: Add the tree; defaults to ``self.draw_tree``.
            title: Text above the image; defaults to ``name``.
            show: Show the drawing in a window.
            wait_time: Seconds to show it (0: until closed).
            out_file: Save the drawing there instead of to the backends.
            name: Identifier of the image for the backends.
            step: Global step for the backends.

        Returns:
            The drawing, RGB uint8.
        """
        tree = self.get_tree(tree)
        if tree is None:
            raise ValueError('HierVisualizer needs a class tree: pass tree= '
                             "or set dataset_meta['class_tree']")
        k = self.topk if topk is None else topk
        paths, scores = sample_topk_paths(data_sample, tree, k)
        gt = None
        if draw_gt and ('gt_path' in data_sample or 'gt_label' in data_sample):
            gt = get_gt_paths(data_sample, tree)
        drawn = draw_hier_prediction(
            image,
            paths,
            scores,
            tree,
            gt_paths=gt,
            draw_tree=self.draw_tree if draw_tree is None else draw_tree,
            title=name if title is None else title)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step=step)
        return drawn

    @master_only
    def visualize_cls(self,
                      image: np.ndarray,
                      data_sample: DataSample,
                      classes: Optional[Sequence[str]] = None,
                      draw_gt: bool = True,
                      draw_pred: bool = True,
                      draw_score: bool = True,
                      resize: Optional[int] = None,
                      rescale_factor: Optional[float] = None,
                      text_cfg: dict = dict(),
                      show: bool = False,
                      wait_time: float = 0,
                      out_file: Optional[str] = None,
                      name: str = '',
                      step: int = 0) -> np.ndarray:
        """:meth:`visualize_hier` when a tree is known and the sample holds
        a prediction; mmpretrain's flat drawing otherwise (same
        arguments)."""
        tree = self.get_tree()
        has_pred = any(
            k in data_sample for k in ('pred_beam_paths', 'pred_path',
                                       'pred_score', 'pred_label'))
        if tree is None or not draw_pred or not has_pred:
            return super().visualize_cls(image, data_sample, classes, draw_gt,
                                         draw_pred, draw_score, resize,
                                         rescale_factor, text_cfg, show,
                                         wait_time, out_file, name, step)
        if resize is not None or rescale_factor is not None:
            h, w = image.shape[:2]
            if resize is not None:
                factor = resize / min(h, w)
            else:
                factor = rescale_factor
            image = mmcv.imrescale(image, factor)
        return self.visualize_hier(
            image,
            data_sample,
            tree=tree,
            draw_gt=draw_gt,
            show=show,
            wait_time=wait_time,
            out_file=out_file,
            name=name,
            step=step)
