# Copyright (c) mmhier contributors. All rights reserved.
"""Turning annotation labels into padded label paths.

The label syntax shared by every mmhier annotation format:

- a node name (``'Sneaker'``): the full path to that node is implied (DHNN
  Remark 1); naming an inner node says "the object IS this inner node"
  (the path stops early, padded with ``PATH_END``);
- a path ``'footwear/shoe/Sneaker'`` (names from level 1 down, separated by
  ``/``), checked against the tree;
- a coarse-only label: a path or name followed by ``/*`` (or ``/?``), e.g.
  ``'footwear/*'``: "we only know the coarse part"; the remaining steps are
  padded with ``PATH_UNKNOWN`` and losses ignore them. Allowed only when the
  dataset is built with ``allow_coarse_only=True``;
- several paths (multi-label) joined with ``;`` in text files, or given as a
  list of paths in JSON; allowed only with ``multi_label=True``.
"""
import logging
from typing import Any, List, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log

from mmhier.structures import PATH_END, PATH_UNKNOWN, ClassTree

#: Last path component that marks a coarse-only label.
COARSE_MARKS = ('*', '?')
#: Allowed values of ``on_error``.
ON_ERROR = ('raise', 'skip')

#: One parsed path: (node indices from level 1 down, coarse_only flag).
ParsedPath = Tuple[List[int], bool]


class AnnotationError(ValueError):
    """A bad annotation; the message names the file and the line (or
    entry)."""


class IssueLog:
    """Collects bad annotations: raises at once or counts and warns.

    Args:
        on_error: ``'raise'`` (the default of the datasets) raises an
            :class:`AnnotationError` at the first problem; ``'skip'`` drops
            the offending sample, counts it and logs one warning at the end
            with the first few offenders.
        source: The annotation file (or folder), used in messages.
        max_listed: How many offenders the warning lists.
    """

    def __init__(self, on_error: str, source: str, max_listed: int = 5):
        if on_error not in ON_ERROR:
            raise ValueError(f'on_error must be one of {ON_ERROR}, got '
                             f'{on_error!r}')
        self.on_error = on_error
        self.source = source
        self.max_listed = max_listed
        self.issues: List[str] = []

    def report(self, where: str, message: str) -> None:
        """Report one bad sample at ``where`` (e.g. ``'line 3'``)."""
        text = f'{self.source}, {where}: {message}'
        if self.on_error == 'raise':
            raise AnnotationError(text)
        self.issues.append(text)

    def __len__(self) -> int:
        return len(self.issues)

    def warn(self, what: str = 'bad annotation(s)') -> None:
        """Log one warning with the count and the first offenders."""
        if not self.issues:
            return
        shown = '\n  '.join(self.issues[:self.max_listed])
        more = len(self.issues) - self.max_listed
        tail = f'\n  ... and {more} more' if more > 0 else ''
        print_log(
            f'{self.source}: skipped {len(self.issues)} {what} '
            f"(on_error='skip'):\n  {shown}{tail}",
            logger='current',
            level=logging.WARNING)


def split_coarse_mark(parts: Sequence[Any]) -> Tuple[List[Any], bool]:
    """Strip a trailing coarse-only mark (``'*'`` or ``'?'``) from a path.

    Returns:
        The path without the mark and whether it was there.
    """
    parts = list(parts)
    if parts and isinstance(parts[-1], str) and parts[-1].strip() in \
            COARSE_MARKS:
        return parts[:-1], True
    return parts, False


def parse_label_string(label: str) -> Tuple[Any, bool]:
    """Split a text label into something :meth:`ClassTree.encode` takes.

    Args:
        label: ``'name'``, ``'a/b/c'`` or ``'a/b/*'``.

    Returns:
        ``(label, coarse_only)`` where ``label`` is the name or a list of
        names.
    """
    label = label.strip()
    if '/' not in label:
        return label, False
    parts = [p.strip() for p in label.split('/')]
    parts, coarse = split_coarse_mark(parts)
    if any(not p for p in parts):
        raise ValueError(f'empty node name in label {label!r}')
    if coarse and len(parts) == 1:
        return parts[0], True
    return parts, coarse


class PathEncoder:
    """Encodes labels into paths of a tree and checks the dataset's rules.

    Args:
        tree: The class tree.
        allow_coarse_only: Accept coarse-only labels (``'a/b/*'``).
        allow_inner_labels: Accept labels that name an inner node (the
            object IS that node).
        multi_label: Accept several paths per sample.
    """

    def __init__(self,
                 tree: ClassTree,
                 allow_coarse_only: bool = False,
                 allow_inner_labels: bool = True,
                 multi_label: bool = False):
        self.tree = tree
        self.allow_coarse_only = allow_coarse_only
        self.allow_inner_labels = allow_inner_labels
        self.multi_label = multi_label

    def encode(self, label: Any, coarse_only: bool = False) -> ParsedPath:
        """Encode one path label (name, index, ``'a/b/c'`` or a sequence).

        Raises:
            ValueError: naming the bad label: unknown node, not a path of
                the tree, a coarse-only label where not allowed, or an inner
                node where not allowed.
        """
        if isinstance(label, str) and label.strip() in self.tree:
            label = label.strip()  # a name that itself contains '/'
        elif isinstance(label, str):
            label, coarse = parse_label_string(label)
            coarse_only = coarse_only or coarse
        elif isinstance(label, (list, tuple)):
            label, coarse = split_coarse_mark(label)
            coarse_only = coarse_only or coarse
            if len(label) == 1:
                label = label[0]
        elif isinstance(label, bool) or not isinstance(label,
                                                       (int, np.integer)):
            raise ValueError(f'a label must be a node name, a node index, '
                             f"a path 'a/b/c' or a list of names, got "
                             f'{label!r}')
        if isinstance(label, (list, tuple)) and not label:
            raise ValueError('empty label path')
        try:
            path = self.tree.encode(label)
        except (KeyError, IndexError) as e:
            msg = e.args[0] if e.args else str(e)
            raise ValueError(f'unknown label {label!r}: {msg}') from None
        except ValueError as e:
            raise ValueError(f'label {label!r} is not a path in the tree: '
                             f'{e}') from None
        node = path[-1]
        is_leaf = bool(self.tree.is_leaf[node])
        shown = '/'.join(self.tree.decode(path))
        if coarse_only:
            if not self.allow_coarse_only:
                raise ValueError(
                    f"coarse-only label '{shown}/*' but the dataset was "
                    'built with allow_coarse_only=False')
            if is_leaf:
                raise ValueError(
                    f"coarse-only label '{shown}/*' ends at the leaf "
                    f'{self.tree.names[node]!r}: there is no finer level '
                    'left to be unknown')
        elif not is_leaf and not self.allow_inner_labels:
            raise ValueError(
                f'label {shown!r} stops at the inner node '
                f'{self.tree.names[node]!r} but allow_inner_labels=False; '
                f"write '{shown}/*' (with allow_coarse_only=True) if only the "
                'coarse part is known, or allow_inner_labels=True if the '
                'object IS this inner node')
        return path, coarse_only

    def encode_many(self,
                    labels: Sequence[Any],
                    coarse_only: bool = False) -> List[ParsedPath]:
        """Encode the paths of one sample; drops exact duplicates."""
        if not labels:
            raise ValueError('the sample has no label')
        out: List[ParsedPath] = []
        for label in labels:
            parsed = self.encode(label, coarse_only)
            if parsed not in out:
                out.append(parsed)
        if len(out) > 1 and not self.multi_label:
            raise ValueError(f'{len(out)} label paths for one sample but '
                             'the dataset was built with multi_label=False')
        return out

    def to_array(self, paths: Sequence[ParsedPath]) -> np.ndarray:
        """Pad parsed paths into the ``(P, T)`` int64 ``gt_path`` array."""
        arr = np.full((len(paths), self.tree.max_depth),
                      PATH_END,
                      dtype=np.int64)
        for r, (path, coarse) in enumerate(paths):
            arr[r, :len(path)] = path
            if coarse:
                arr[r, len(path):] = PATH_UNKNOWN
        return arr


def last_known_nodes(gt_path: np.ndarray) -> np.ndarray:
    """Last annotated node of each row of a ``(P, T)`` path array."""
    gt_path = np.asarray(gt_path).reshape(-1, gt_path.shape[-1])
    known = gt_path >= 0
    last = known.sum(-1) - 1
    return gt_path[np.arange(len(gt_path)), np.maximum(last, 0)]
