# Copyright (c) mmhier contributors. All rights reserved.
"""Predict the top-k label paths of images with a trained model."""
import os
import os.path as osp
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Union

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.runner import load_checkpoint
from mmpretrain.apis import BaseInferencer
from mmpretrain.registry import TRANSFORMS
from mmpretrain.structures import DataSample

from mmhier.evaluation.functional.threshold_io import CHECKPOINT_KEY
from mmhier.utils.progress_bar import SparseProgressBar
from .inference_batching import beam_at_least, predict_by_shape
from .inference_inputs import (IMG_EXTENSIONS, InputType, display_image,
                               list_inputs, to_model_channels)
from .inference_setup import (dataset_cfg, model_in_channels,
                              resolve_threshold, resolve_tree)
from .predictions import format_prediction, sample_topk_paths

__all__ = ['HierInferencer', 'IMG_EXTENSIONS']

_LOAD = ('LoadImageFromFile', 'mmpretrain.LoadImageFromFile',
         'mmcv.LoadImageFromFile')


class HierInferencer(BaseInferencer):
    """Predict the k best label paths of images (mmpretrain's inferencer
    conventions, for mmhier's hierarchical models and flat ones).

    The model is built from a config and a checkpoint (or given built); the
    images go through the config's test pipeline (its
    ``LoadImageFromFile`` replaced by our loading, so arrays work too) and
    the model's ``test_step``. Every result holds the top-k paths of the
    image, best first, each with the node names, display names, node
    indices and a score in ``[0, 1]`` (see
    :mod:`mmhier.evaluation.functional.topk_paths` for what the score means
    for each kind of head). A flat classifier over
    the N tree nodes (``LinearClsHead(num_classes=N)``) gets the paths
    implied by its best nodes (DHNN Remark 1).

    The class tree comes from, in order: the ``tree`` argument; the
    checkpoint's ``meta['dataset_meta']['class_tree']`` (the Runner saves
    it); the model's head (``head.tree``) or the model itself
    (``model.tree``, HierNet); the ``tree`` (or ``class_tree``) of the
    config's test dataset.

    Inputs: an image file, a folder (every image file in it, sorted by
    name, not recursive), an array ``(H, W)`` or ``(H, W, C)`` with C in 1,
    3 or 4 (colour arrays in BGR order, as ``cv2.imread`` and
    ``mmcv.imread`` give them; a 4th channel is dropped), a ``(B, H, W[,
    C])`` array of images, or a list of any of these. Images are converted
    to the channels the model takes: grey for a one-channel data
    preprocessor (Fashion-MNIST), three channels otherwise, in the order the
    training data had (``color_order``).

    Multi-label models select every path whose node scores are all
    ``>=`` a threshold (``selected_paths`` of each result; a hierarchical
    head's ``pred_paths``). The threshold is, in order: the ``threshold``
    argument; the one validated for the checkpoint's weights, which
    :class:`mmhier.engine.hooks.HierThresholdHook` stores in
    ``meta['hier_threshold']``; else the head's configured ``threshold``
    (with a warning). The log says which one is used and where it came
    from; ``self.threshold`` and ``self.threshold_source`` keep them.

    Args:
        model: A config file path, a :class:`Config`, or a model built by
            :func:`mmpretrain.apis.get_model` (which keeps its config).
        pretrained: Checkpoint file. ``None`` keeps random weights (with a
            warning); ``True`` uses the config's ``load_from``.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ...; defaults to
            ``'cuda'`` when available, else ``'cpu'``.
        tree: Overrides the class tree (anything :meth:`ClassTree.build`
            accepts: a file, a nested dict, a tree); it must have as many
            nodes as the model predicts.
        topk: Default number of paths per image (the call's ``topk``
            overrides it). A beam-search head whose ``beam_size`` is smaller
            searches with a beam of ``topk`` during the call, so that it can
            return k paths.
        color_order: ``'bgr'`` or ``'rgb'``: the channel order the test
            pipeline expects. Defaults to ``'bgr'`` when the config's test
            pipeline reads files (``LoadImageFromFile`` reads BGR) and
            ``'rgb'`` when it does not (in-memory data sets such as CIFAR
            hold RGB arrays).
        threshold: Multi-label selection threshold overriding the
            checkpoint's validated one.

    Examples:
        >>> from mmhier.apis import HierInferencer
        >>> inferencer = HierInferencer('configs/hier/my_config.py',
        ...                             pretrained='epoch_10.pth')
        >>> result = inferencer('demo.png', topk=3)[0]
        >>> [(p['display'], round(p['score'], 3)) for p in result['paths']]
        [(['clothing', 'garment', 'Coat'], 0.912), ...]
        >>> inferencer('images/', batch_size=8, show_dir='vis/',
        ...            draw_tree=True)  # also draws every prediction
    """

    preprocess_kwargs: set = set()
    forward_kwargs: set = {'topk'}
    visualize_kwargs: set = {
        'show', 'show_dir', 'wait_time', 'draw_tree', 'topk'
    }
    postprocess_kwargs: set = {'topk'}

    def __init__(self,
                 model: Union[BaseModel, str, os.PathLike, Config],
                 pretrained: Union[str, bool, None] = None,
                 device: Union[str, torch.device, None] = None,
                 tree: Any = None,
                 topk: int = 5,
                 color_order: Optional[str] = None,
                 threshold: Optional[float] = None,
                 **kwargs) -> None:
        self.topk = self._check_topk(topk)
        number = isinstance(threshold,
                            (int, float)) and not isinstance(threshold, bool)
        if threshold is not None and not (number and 0. <= threshold <= 1.):
            raise ValueError('threshold is a sigmoid score in [0, 1], got '
                             f'{threshold!r}')
        if color_order not in (None, 'bgr', 'rgb'):
            raise ValueError(f"color_order must be 'bgr', 'rgb' or None, got "
                             f'{color_order!r}')
        self._color_order = color_order
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        if isinstance(model, os.PathLike):
            model = os.fspath(model)
        built = isinstance(model, BaseModel)
        if not built:
            # build without weights, then load the checkpoint here, so that
            # its meta (dataset_meta, the validated threshold) is at hand
            from mmpretrain.apis import get_model
            build_kwargs = {
                k: v
                for k, v in kwargs.items()
                if k not in ('device_map', 'offload_folder')
            }
            kwargs = {k: v for k, v in kwargs.items() if k not in build_kwargs}
            model = get_model(model, pretrained=False, **build_kwargs)
            if pretrained is True:
                pretrained = model._config.get('load_from', None) or None
        if not hasattr(model, '_config'):
            raise ValueError(
                'a built model must carry its config: build it with '
                'mmpretrain.apis.get_model(config, checkpoint), or pass '
                'the config file instead of the model')
        ckpt_meta: dict = {}
        if isinstance(pretrained, str):
            ckpt = load_checkpoint(model, pretrained, map_location='cpu')
            ckpt_meta = ckpt.get('meta', None) or {}
            if ckpt_meta.get('dataset_meta'):
                model._dataset_meta = ckpt_meta['dataset_meta']
        elif pretrained is None and not built:
            print_log(
                'HierInferencer: no checkpoint given (pretrained=None), the '
                'model keeps its initial weights', 'current', 30)
        super().__init__(
            model=model, pretrained=False, device=device, **kwargs)
        self.tree = resolve_tree(self.model, self.config, tree)
        self.classes = list(self.tree.names)
        self.in_channels = model_in_channels(self.model, self.config)
        self.threshold, self.threshold_source = resolve_threshold(
            self.model, threshold, ckpt_meta.get(CHECKPOINT_KEY), pretrained)

    def __call__(self,
                 inputs: InputType,
                 return_datasamples: bool = False,
                 batch_size: int = 1,
                 **kwargs) -> list:
        """Predict the top-k paths of images.

        Args:
            inputs: An image file, a folder, an array or a list of them
                (see the class docstring).
            return_datasamples: Return the model's DataSamples instead of
                dicts.
            batch_size: Images per forward pass; results do not depend on
                it.
            topk (int): Paths per image; defaults to ``self.topk``.
            show_dir (str): Save a drawing of every image with its paths
                there (``<image name>.png``).
            draw_tree (bool): Add the class tree to the drawings.
            show (bool): Show the drawings in windows.
            wait_time (float): Seconds each window stays (0: until closed).

        Returns:
            One dict per image, in input order (folders expanded): see
            :meth:`postprocess`.
        """
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f'batch_size must be an int >= 1, got '
                             f'{batch_size!r}')
        if kwargs.get('topk') is not None:
            kwargs['topk'] = self._check_topk(kwargs['topk'])
        # BaseInferencer.__call__ with mmhier's progress bar instead of
        # mmpretrain's rich one, whose last frame, off a terminal, is left
        # without a line end and runs into whatever is printed next
        pre_kw, forward_kw, vis_kw, post_kw = self._dispatch_kwargs(**kwargs)
        ori_inputs = self._inputs_to_list(inputs)
        batches = self.preprocess(ori_inputs, batch_size=batch_size, **pre_kw)
        bar = SparseProgressBar(len(ori_inputs), desc='inference')
        preds = []
        for data in batches:
            batch_preds = self.forward(data, **forward_kw)
            preds.extend(batch_preds)
            bar.update(len(batch_preds))
        bar.close()
        visualization = self.visualize(ori_inputs, preds, **vis_kw)
        return self.postprocess(preds, visualization, return_datasamples,
                                **post_kw)

    # ------------------------------------------------------------------
    # set-up
    # ------------------------------------------------------------------
    @staticmethod
    def _check_topk(topk: Any) -> int:
        if not isinstance(topk, (int, np.integer)) or isinstance(
                topk, bool) or topk < 1:
            raise ValueError(f'topk must be an int >= 1, got {topk!r}')
        return int(topk)

    def _init_pipeline(self, cfg: Config) -> Callable:
        from mmpretrain.datasets import remove_transform
        dataset = dataset_cfg(cfg, ('test_dataloader', 'val_dataloader'))
        if dataset is None or dataset.get('pipeline') is None:
            raise ValueError('the config has no test_dataloader.dataset.'
                             'pipeline (nor val_dataloader...): the '
                             'inferencer preprocesses images with it')
        pipeline = list(dataset['pipeline'])
        loads = [t for t in pipeline if t.get('type') in _LOAD]
        self._load_cfg = dict(loads[0]) if loads else {}
        if self._color_order is None:
            self._color_order = 'bgr' if loads else 'rgb'
        for name in _LOAD:
            pipeline = remove_transform(pipeline, name)
        return Compose([TRANSFORMS.build(t) for t in pipeline])

    # ------------------------------------------------------------------
    # inputs
    # ------------------------------------------------------------------
    def _inputs_to_list(self, inputs: InputType) -> list:
        """Files, folders (expanded), arrays (a 4-d array is a batch)."""
        return list_inputs(inputs)

    def _load(self, input_: Union[str, np.ndarray], index: int) -> dict:
        if isinstance(input_, str):
            flag = self._load_cfg.get(
                'color_type',
                'grayscale' if self.in_channels == 1 else 'color')
            img = mmcv.imread(input_, flag=flag)
            if img is None:
                raise ValueError(f'cannot read the image {input_!r}')
            if self._load_cfg.get('to_float32', False):
                img = img.astype(np.float32)
            img = to_model_channels(img, input_, self.in_channels,
                                    self._color_order)
            info = dict(img_path=input_)
        else:
            img = to_model_channels(input_, f'input {index}',
                                    self.in_channels, self._color_order)
            info = {}
        return dict(
            img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2], **info)

    def preprocess(self, inputs: list, batch_size: int = 1) -> Iterator:
        """Load, run the test pipeline, and yield batches."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f'batch_size must be an int >= 1, got '
                             f'{batch_size!r}')
        data = (self.pipeline(self._load(x, i)) for i, x in enumerate(inputs))
        yield from map(pseudo_collate, self._get_chunk_data(data, batch_size))

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    @torch.no_grad()
    def forward(self,
                data: dict,
                topk: Optional[int] = None) -> List[DataSample]:
        """``model.test_step`` on a batch; images of different sizes (a
        pipeline without resizing) run in groups of equal size rather than
        padded together, so every result equals that of batch size 1."""
        k = self.topk if topk is None else self._check_topk(topk)
        with beam_at_least(self.model, k):
            return predict_by_shape(self.model, data['inputs'],
                                    data['data_samples'])

    # ------------------------------------------------------------------
    # outputs
    # ------------------------------------------------------------------
    def visualize(self,
                  ori_inputs: list,
                  preds: List[DataSample],
                  show: bool = False,
                  wait_time: float = 0,
                  show_dir: Optional[str] = None,
                  draw_tree: bool = False,
                  topk: Optional[int] = None) -> Optional[List[np.ndarray]]:
        """Draw each image with its top-k paths (and the tree).

        Args:
            ori_inputs: The inputs, one per prediction.
            preds: The predictions.
            show: Show each drawing in a window.
            wait_time: Seconds to show it (0: until closed).
            show_dir: Save the drawings there as ``<image name>.png``
                (arrays: ``<index>.png``).
            draw_tree: Add the class tree with the paths highlighted.
            topk: Paths to draw; defaults to ``self.topk``.

        Returns:
            The drawings (RGB arrays), or ``None`` when neither ``show`` nor
            ``show_dir`` is set.
        """
        if not show and show_dir is None:
            return None
        k = self.topk if topk is None else self._check_topk(topk)
        if self.visualizer is None:
            from mmhier.visualization import HierVisualizer
            self.visualizer = HierVisualizer(
                name=f'hier_inferencer_{id(self)}', tree=self.tree)
        if show_dir is not None:
            Path(show_dir).mkdir(parents=True, exist_ok=True)
        drawings, used = [], set()
        for i, (input_, pred) in enumerate(zip(ori_inputs, preds)):
            name = Path(input_).stem if isinstance(input_, str) else str(i)
            base, n = name, 1
            while name in used:  # same stem in two folders
                name, n = f'{base}_{n}', n + 1
            used.add(name)
            out_file = None
            if show_dir is not None:
                out_file = osp.join(show_dir, name + '.png')
                pred.set_field(out_file, 'vis_file', field_type='metainfo')
            drawings.append(
                self.visualizer.visualize_hier(
                    display_image(input_),
                    pred,
                    topk=k,
                    draw_gt=False,
                    draw_tree=draw_tree,
                    title=osp.basename(input_)
                    if isinstance(input_, str) else f'input {i}',
                    show=show,
                    wait_time=wait_time,
                    out_file=out_file,
                    name=name))
        if show:
            self.visualizer.close()
        return drawings

    def postprocess(self,
                    preds: List[DataSample],
                    visualization: Optional[List[np.ndarray]],
                    return_datasamples: bool = False,
                    topk: Optional[int] = None) -> list:
        """One dict per image (see :func:`format_prediction`), plus
        ``img_path`` (``None`` for arrays) and, with ``show_dir``,
        ``vis_file``; or the DataSamples with ``return_datasamples``."""
        if return_datasamples:
            return preds
        k = self.topk if topk is None else self._check_topk(topk)
        results = []
        for pred in preds:
            result = format_prediction(pred, self.tree, k, self.threshold)
            result['img_path'] = pred.get('img_path', None)
            if 'vis_file' in pred:
                result['vis_file'] = pred.vis_file
            results.append(result)
        return results

    def topk_paths(self, pred: DataSample, topk: Optional[int] = None):
        """``(paths (k, T), scores (k,))`` of a predicted DataSample."""
        k = self.topk if topk is None else self._check_topk(topk)
        return sample_topk_paths(pred, self.tree, k)

    @staticmethod
    def list_models(pattern: Optional[str] = None):
        """mmhier has no model zoo: give a config and a checkpoint."""
        raise NotImplementedError(
            'mmhier has no model hub; build the inferencer from a config '
            'file and a checkpoint')
