# Copyright (c) mmhier contributors. All rights reserved.
"""One-call inference, in the manner of mmpretrain's ``inference_model``."""
import os
from typing import Any, List, Union

import numpy as np
from mmengine.config import Config
from mmengine.model import BaseModel

from .hier_inferencer import HierInferencer

__all__ = ['inference_hier_model']

_INIT_KEYS = ('pretrained', 'device', 'tree', 'color_order', 'threshold')


def inference_hier_model(model: Union[BaseModel, str, Config],
                         inputs: Any,
                         topk: int = 5,
                         batch_size: int = 1,
                         **kwargs) -> Union[dict, List[dict]]:
    """Predict the top-k label paths of one image or of several.

    A shortcut for :class:`HierInferencer`: it builds the inferencer and
    calls it once. Keep an inferencer for repeated calls.

    Args:
        model: A model built by :func:`mmpretrain.apis.get_model`, a config
            file path or a :class:`Config`.
        inputs: An image file, an array, a folder or a list of them (see
            :class:`HierInferencer`).
        topk: Paths per image.
        batch_size: Images per forward pass.
        **kwargs: ``pretrained``, ``device``, ``tree``, ``color_order``
            and ``threshold`` go to :class:`HierInferencer`, the rest
            (``show_dir``, ``draw_tree``, ``show``, ``wait_time``,
            ``return_datasamples``) to its call.

    Returns:
        The result dict of a single image (a file or an ``(H, W[, C])``
        array), else the list of result dicts.

    Examples:
        >>> from mmpretrain.apis import get_model
        >>> model = get_model('my_config.py', pretrained='epoch_10.pth')
        >>> result = inference_hier_model(model, 'demo.png', topk=3)
        >>> result['paths'][0]['nodes'], result['paths'][0]['score']
        (['clothing', 'garment', 'Coat'], 0.912)
    """
    init_kwargs = {k: kwargs.pop(k) for k in _INIT_KEYS if k in kwargs}
    inferencer = HierInferencer(model, topk=topk, **init_kwargs)
    results = inferencer(inputs, batch_size=batch_size, **kwargs)
    single = (isinstance(inputs, np.ndarray) and inputs.ndim in (2, 3)) or (
        isinstance(inputs, (str, os.PathLike)) and not os.path.isdir(inputs))
    return results[0] if single else results
