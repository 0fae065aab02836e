# Copyright (c) mmhier contributors. All rights reserved.
"""Running an inferencer's batches through the model."""
import contextlib
from typing import Dict, Iterator, List, Optional

import torch
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample

__all__ = ['beam_at_least', 'predict_by_shape']


@contextlib.contextmanager
def beam_at_least(model: BaseModel, k: int) -> Iterator[None]:
    """Widen a beam-search head's beam to k for the ``with`` block."""
    head = getattr(model, 'head', None)
    old = getattr(head, 'beam_size', None)
    widen = isinstance(old, int) and old < k
    if widen:
        head.beam_size = k
    try:
        yield
    finally:
        if widen:
            head.beam_size = old


def predict_by_shape(model: BaseModel, inputs: List[torch.Tensor],
                     samples: List[DataSample]) -> List[DataSample]:
    """``model.test_step`` on a batch, in groups of images of equal size.

    Images of different sizes (a pipeline without resizing) run in groups
    rather than padded together, so every result equals that of batch
    size 1.

    Args:
        model: The model.
        inputs: The preprocessed images, one ``(C, H, W)`` tensor each.
        samples: Their DataSamples.

    Returns:
        list[DataSample]: the predictions, in input order.
    """
    groups: Dict[tuple, List[int]] = {}
    for i, x in enumerate(inputs):
        groups.setdefault(tuple(x.shape), []).append(i)
    preds: List[Optional[DataSample]] = [None] * len(inputs)
    for idx in groups.values():
        batch = dict(
            inputs=torch.stack([inputs[i] for i in idx]),
            data_samples=[samples[i] for i in idx])
        for i, pred in zip(idx, model.test_step(batch)):
            preds[i] = pred
    return preds
