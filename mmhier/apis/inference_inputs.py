# Copyright (c) mmhier contributors. All rights reserved.
"""The inputs of an inferencer: files, folders and arrays, as images."""
import os
import os.path as osp
from typing import Optional, Union

import mmcv
import numpy as np

__all__ = [
    'IMG_EXTENSIONS', 'InputType', 'list_inputs', 'to_model_channels',
    'display_image'
]

#: file endings read as images when a folder is given
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')

InputType = Union[str, os.PathLike, np.ndarray, list, tuple]


def list_inputs(inputs: InputType) -> list:
    """The images of ``inputs``, one entry each.

    Args:
        inputs: An image file, a folder (its image files, sorted), an array
            (a 4-d array is a batch) or a list of them.

    Returns:
        list: file paths and arrays.
    """
    if isinstance(inputs, np.ndarray) and inputs.ndim == 4:
        inputs = list(inputs)
    items = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    out: list = []
    for item in items:
        if isinstance(item, (str, os.PathLike)):
            item = os.fspath(item)
            if osp.isdir(item):
                files = sorted(
                    f for f in os.listdir(item)
                    if f.lower().endswith(IMG_EXTENSIONS)
                    and osp.isfile(osp.join(item, f)))
                if not files:
                    raise ValueError(
                        f'the folder {item!r} holds no image file '
                        f'(endings {", ".join(IMG_EXTENSIONS)})')
                out.extend(osp.join(item, f) for f in files)
            elif osp.isfile(item):
                out.append(item)
            else:
                raise FileNotFoundError(
                    f'no such image file or folder: {item!r}')
        elif isinstance(item, np.ndarray):
            out.append(item)
        else:
            raise TypeError('inputs are image paths, folders, numpy '
                            'arrays or lists of them, got '
                            f'{type(item).__name__}')
    if not out:
        raise ValueError('no input images given')
    return out


def to_model_channels(img: np.ndarray, where: str, in_channels: int,
                      color_order: Optional[str]) -> np.ndarray:
    """A BGR (or grey) image in the channels and order of the model.

    Args:
        img: ``(H, W)`` or ``(H, W, C)``, C in 1, 3, 4 (alpha dropped).
        where: The image, for messages.
        in_channels: Channels of the model (1 or 3).
        color_order: ``'rgb'`` flips a 3-channel image for the model.
    """
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    elif img.ndim == 3 and img.shape[-1] == 4:
        img = img[..., :3]  # drop alpha
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[-1] != 3):
        raise ValueError(f'{where}: an image array must be (H, W) or '
                         '(H, W, C) with C in 1, 3, 4, got shape '
                         f'{img.shape}')
    if in_channels == 1 and img.ndim == 3:
        if img.dtype == np.float64:
            img = img.astype(np.float32)
        img = mmcv.bgr2gray(img)
    elif in_channels == 3:
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=-1)
        if color_order == 'rgb':
            img = img[..., ::-1]
    return np.ascontiguousarray(img)


def display_image(input_: Union[str, np.ndarray]) -> np.ndarray:
    """The input as an RGB (or grey) image for drawing."""
    if isinstance(input_, str):
        return mmcv.imread(input_, flag='color')[..., ::-1]
    img = np.asarray(input_)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 3:
        img = img[..., 2::-1]  # BGR(A) -> RGB
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return img
