# Copyright (c) mmhier contributors. All rights reserved.
"""Images that cannot be read or decoded, met while a dataset is iterated.

A 0-byte or truncated file passes the load-time check (the file exists)
and fails only when the pipeline decodes it, mid-epoch, with an error of
the decoder (``cv2.error: ... !buf.empty()``) that names neither the file
nor the sample. :class:`BadImageTracker` turns that into an
:class:`ImageReadError` naming the file, the annotation file and line, the
sample index and the split (``on_error='raise'``), or skips the sample
(``on_error='skip'``): the sample is replaced by the next readable one,
each bad file is logged once, and the run stops with the list of files once
more than ``max_bad_share`` of the samples are bad.

The flags live in a shared-memory tensor, so that dataloader workers (fork
or spawn) and the main process see the same record; the per-epoch summary
(``HierBadImageHook``) reads it in the main process and, under DDP, gathers
it over the ranks.
"""
import logging
from typing import Callable, List, Optional

import torch
from mmengine.fileio import get
from mmengine.logging import print_log


class ImageReadError(ValueError):
    """An image that cannot be read or decoded; the message names the
    file, the annotation file and line, the sample and the split."""


class TooManyBadImagesError(ImageReadError):
    """More than the allowed share of a dataset's images are unreadable;
    the message lists them."""


def probe_image(path: str) -> Optional[str]:
    """Why the image at ``path`` cannot be used, or ``None`` when it reads
    and decodes.

    Only called after the pipeline failed on a sample, to tell a bad file
    from a failure elsewhere in the pipeline.
    """
    import mmcv  # the decoder LoadImageFromFile uses
    try:
        data = get(path)
    except Exception as e:  # noqa: BLE001 - any backend's read error
        return f'cannot be read: {type(e).__name__}: {e}'
    if not data:
        return 'the file is empty (0 bytes)'
    try:
        img = mmcv.imfrombytes(data)
    except Exception as e:  # noqa: BLE001 - any decoder's error
        return (f'cannot be decoded as an image ({len(data)} bytes): '
                f'{type(e).__name__}: {str(e).strip()[:200]}')
    if img is None:
        return f'cannot be decoded as an image ({len(data)} bytes)'
    return None


class BadImageTracker:
    """Record of the unreadable images of one dataset (a shared tensor of
    one flag per sample, plus the settings).

    Args:
        size: Number of samples.
        on_error: ``'raise'`` or ``'skip'``.
        max_bad_share: With ``'skip'``, the largest share of bad samples
            tolerated (``0.01``: stop when more than 1% are bad).
    """

    def __init__(self, size: int, on_error: str, max_bad_share: float):
        self.flags = torch.zeros(max(size, 1), dtype=torch.uint8)
        self.flags.share_memory_()
        self.size = size
        self.on_error = on_error
        self.max_bad_share = max_bad_share

    def bad_indices(self, flags: Optional[torch.Tensor] = None) -> List[int]:
        """Indices of the samples found bad so far (in any worker)."""
        flags = self.flags if flags is None else flags
        return flags[:self.size].nonzero().flatten().tolist()

    def limit(self) -> int:
        """The largest number of bad samples tolerated."""
        return int(self.max_bad_share * self.size)

    def too_many(self, bad: List[int], split: str,
                 describe: Callable[[int], str]) -> TooManyBadImagesError:
        """The error that stops the run, listing every bad file."""
        listed = '\n  '.join(describe(i) for i in bad)
        return TooManyBadImagesError(
            f'{split}: {len(bad)} of {self.size} images cannot be read, more '
            f'than max_bad_share={self.max_bad_share} allows '
            f'({self.limit()}); fix or remove them, or raise max_bad_share:'
            f'\n  {listed}')

    def report(self, idx: int, reason: str, split: str,
               describe: Callable[[int], str],
               cause: Optional[BaseException]) -> None:
        """Handle sample ``idx``, whose image is unreadable for ``reason``.

        Raises :class:`ImageReadError` with ``on_error='raise'``; with
        ``'skip'`` flags the sample, logs it the first time, and raises
        :class:`TooManyBadImagesError` once there are too many.
        """
        text = f'{split}: {describe(idx)}: the image {reason}'
        if self.on_error == 'raise':
            raise ImageReadError(
                text + " (on_error='skip' skips such samples)") from cause
        if self.flags[idx]:
            return
        self.flags[idx] = 1
        print_log(
            text + " (skipped: on_error='skip')",
            logger='current',
            level=logging.WARNING)
        bad = self.bad_indices()
        if len(bad) > self.limit():
            raise self.too_many(bad, split, describe) from cause
