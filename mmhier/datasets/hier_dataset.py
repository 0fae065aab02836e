# Copyright (c) mmhier contributors. All rights reserved.
from typing import Any, List, Optional, Sequence

import numpy as np
from mmengine.fileio import get_text, join_path
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from .hier_annotation_formats import HierAnnotationFormatsMixin
from .hier_base import HierDatasetMixin, log_summary
from .image_errors import BadImageTracker, ImageReadError, probe_image
from .label_parsing import (ON_ERROR, AnnotationError, IssueLog, ParsedPath,
                            PathEncoder, last_known_nodes)

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')
ANN_FORMATS = ('json', 'txt', 'folder')


@DATASETS.register_module()
class HierDataset(HierAnnotationFormatsMixin, HierDatasetMixin, BaseDataset):
    """Images labelled with one or several paths of a class tree.

    Three annotation formats (``ann_format``, guessed when ``None``: no
    ``ann_file`` means a folder, ``.json`` means JSON, anything else text):

    - **JSON** (OpenMMLab 2.0): ``{"metainfo": {...}, "data_list": [...]}``.
      Each entry has ``img_path`` and ``gt_label``: a node name, a node
      index, a path string ``"a/b/c"``, a list of names (one path), or a list
      of paths (several paths, with ``multi_label=True``). ``"coarse_only":
      true`` marks all paths of an entry as coarse-only. Other keys are kept
      in ``data_info``. ``metainfo`` may carry the tree as ``"tree"``: a
      nested dict, an Open Images hierarchy dict or a tree file path
      (relative to the annotation file).
    - **text**: one ``relative/path.jpg label`` per line. The path ends at
      the first whitespace (use a tab as separator when image paths contain
      spaces); the label is the rest of the line: a node name or an
      ``a/b/c`` path, several paths separated by ``;``. Blank lines and lines
      starting with ``#`` are ignored.
    - **folder**: ``data_prefix/a/b/c/img.jpg``: the folders are the path.
      An image directly in an inner folder is labelled with that inner node.
      Without a tree, the tree is the folder structure (children sorted by
      name). Coarse-only labels cannot be written this way.

    A label that names an inner node means "the object IS this node" (the
    path is padded with ``PATH_END``). A coarse-only label, ``a/b/*`` (or
    ``a/b/?``), means "we only know the upper part" (padded with
    ``PATH_UNKNOWN``, ignored by the losses); it needs
    ``allow_coarse_only=True`` (Guo et al.'s partially annotated data).

    Bad annotations (unknown label, a path that is not in the tree, a
    malformed line, a missing image file) raise an :class:`AnnotationError`
    naming the file and the line (``data_list[k]`` for JSON) with
    ``on_error='raise'``; with ``on_error='skip'`` the samples are dropped,
    counted in :attr:`skipped` and reported in one warning. An empty
    annotation file always raises.

    An image that cannot be read or decoded when the pipeline loads it
    raises an :class:`ImageReadError` naming the file, the annotation file
    and line, the sample index and the split (``on_error='raise'``); with
    ``on_error='skip'`` the sample is replaced by the next readable one,
    each bad file is logged once (``HierBadImageHook`` logs a summary at the
    end of every epoch), and more than ``max_bad_share`` bad samples stop
    the run with the list of files.

    ``data_info`` per sample: ``img_path``, ``gt_label`` (int, last
    annotated node of the first path), ``gt_path`` (int64 ``(P, T)``),
    ``ann_line`` (where in the annotations: ``'line 3'``,
    ``'data_list[2]'`` or the image's path in the folder layout).

    Args:
        ann_file: Annotation file; ``''`` for the folder layout.
        tree: The class tree: a :class:`ClassTree`, a tree file (any format
            ClassTree reads) or a nested dict. May instead come as
            ``metainfo['tree']``, from the JSON annotation's metainfo, or
            from the folders.
        metainfo: Meta information; ``classes`` and ``class_tree`` are set
            from the tree.
        data_root: Root joined with ``ann_file`` and ``data_prefix``.
        data_prefix: Image folder (str) or ``dict(img_path=...)``.
        multi_label: Accept several paths per sample.
        allow_coarse_only: Accept coarse-only labels (``a/b/*``).
        allow_inner_labels: Accept labels that stop at an inner node without
            being coarse-only (the object IS that node; Open Images labels
            sit at every level). Set ``False`` for fixed-path-length models
            that need every path to reach a leaf: such labels then raise,
            pointing to the ``a/b/*`` syntax.
        on_error: ``'raise'`` or ``'skip'`` for bad annotations and
            unreadable images.
        max_bad_share: With ``on_error='skip'``, the largest share of
            samples whose image may be unreadable; one more stops the run.
            Defaults to 0.01 (1%).
        split: Name of the split for messages (``'train'``, ``'val'``,
            ``'test'``); ``HierBadImageHook`` sets it when ``None``.
        check_files: Check at load time that every listed image exists.
        ann_format: ``'json'``, ``'txt'``, ``'folder'`` or ``None`` (guess).
        extensions: Image file extensions for the folder layout
            (case-insensitive).
        **kwargs: Other arguments of mmpretrain's ``BaseDataset``
            (``pipeline``, ``test_mode``, ``indices``, ``lazy_init`` ...).

    Examples:
        >>> ds = DATASETS.build(dict(
        ...     type='HierDataset', ann_file='train.txt',
        ...     tree='tree.json', data_prefix='images/'))
        >>> ds[0]['gt_path']      # array([[0, 2, -1]])
    """

    def __init__(self,
                 ann_file: str = '',
                 tree: Any = None,
                 metainfo: Optional[dict] = None,
                 data_root: str = '',
                 data_prefix: Any = '',
                 multi_label: bool = False,
                 allow_coarse_only: bool = False,
                 allow_inner_labels: bool = True,
                 on_error: str = 'raise',
                 check_files: bool = True,
                 ann_format: Optional[str] = None,
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 classes: Any = None,
                 max_bad_share: float = 0.01,
                 split: Optional[str] = None,
                 **kwargs):
        if on_error not in ON_ERROR:
            raise ValueError(f'on_error must be one of {ON_ERROR}, got '
                             f'{on_error!r}')
        if ann_format is not None and ann_format not in ANN_FORMATS:
            raise ValueError(f'ann_format must be one of {ANN_FORMATS} or '
                             f'None, got {ann_format!r}')
        self.multi_label = multi_label
        self.allow_coarse_only = allow_coarse_only
        self.allow_inner_labels = allow_inner_labels
        self.on_error = on_error
        self.check_files = check_files
        if not 0 <= max_bad_share <= 1:
            raise ValueError('max_bad_share must be a share in [0, 1], got '
                             f'{max_bad_share!r}')
        self.ann_format = ann_format
        self.max_bad_share = max_bad_share
        self.split = split
        self._bad_images: Optional[BadImageTracker] = None
        self.extensions = tuple(e.lower() for e in extensions)
        #: Messages of the samples dropped with ``on_error='skip'``.
        self.skipped: List[str] = []
        metainfo = self._prepare_metainfo(tree, metainfo, classes)
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=data_prefix,
            **kwargs)

    # ------------------------------------------------------------------
    def _format(self) -> str:
        if self.ann_format is not None:
            return self.ann_format
        if not self.ann_file:
            return 'folder'
        return 'json' if self.ann_file.lower().endswith('.json') else 'txt'

    def _encoder(self) -> PathEncoder:
        return PathEncoder(
            self._metainfo['class_tree'],
            allow_coarse_only=self.allow_coarse_only,
            allow_inner_labels=self.allow_inner_labels,
            multi_label=self.multi_label)

    def _img_path(self, rel: str) -> str:
        prefix = self.img_prefix
        return join_path(prefix, rel) if prefix else rel

    def _make_info(self,
                   where: str,
                   img: str,
                   paths: List[ParsedPath],
                   encoder: PathEncoder,
                   extra: Optional[dict] = None):
        gt_path = encoder.to_array(paths)
        info = dict(extra or {})
        info.update(
            img_path=self._img_path(img),
            ann_line=where,
            gt_label=int(last_known_nodes(gt_path)[0]),
            gt_path=gt_path)
        return info

    def load_data_list(self) -> List[dict]:
        """Read the annotations (JSON, text or folders) into data infos."""
        fmt = self._format()
        source = self.ann_file if fmt != 'folder' else self.img_prefix
        log = IssueLog(self.on_error, source)
        if fmt == 'folder':
            entries = self._load_folder(log)
        else:
            if not self.ann_file:
                raise ValueError(f'ann_format={fmt!r} needs an ann_file')
            try:
                text = get_text(self.ann_file)
            except UnicodeDecodeError as e:
                raise AnnotationError(
                    f'{self.ann_file}: not UTF-8 text (byte {e.start}: '
                    f'{e.reason})') from None
            if fmt == 'json':
                entries = self._load_json(text, log)
            else:
                entries = self._load_text(text, log)
        if self.check_files and fmt != 'folder':
            entries = self._drop_missing(entries, log)
        log.warn()
        self.skipped = list(log.issues)
        if not entries:
            raise AnnotationError(
                f'{source}: no valid sample left ({len(log)} skipped with '
                "on_error='skip')")
        depth = np.array([(info['gt_path'] >= 0).sum(-1).max()
                          for _, info in entries])
        log_summary(self, source, depth, len(log))
        return [info for _, info in entries]

    def _require_tree(self, source: str) -> None:
        if self._metainfo.get('class_tree') is None:
            raise ValueError(
                f'{source}: no class tree; pass tree= (a ClassTree, a tree '
                "file or a nested dict) or metainfo=dict(tree=...)")

    # ------------------------------------------------------------------
    @property
    def split_name(self) -> str:
        """The split for messages (``split``, else a guess from
        ``test_mode``)."""
        if self.split:
            return f'{self.split} split'
        return 'val/test split' if self.test_mode else 'train split'

    @property
    def bad_images(self) -> BadImageTracker:
        """The record of unreadable images (shared with the workers)."""
        tracker = self._bad_images
        if tracker is None or tracker.size != len(self):  # new or a subset
            tracker = BadImageTracker(
                len(self), self.on_error, self.max_bad_share)
            self._bad_images = tracker
        return tracker

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        super().full_init()
        # made here, before dataloader workers copy the dataset, so that
        # they share one record of the bad images
        self.bad_images  # noqa: B018

    def describe_sample(self, idx: int) -> str:
        """``'<image> (sample <idx>, <ann_file>, line <n>)'``."""
        info = self.get_data_info(idx)
        source = self.ann_file or self.img_prefix
        return (f"{info['img_path']} (sample {idx}, {source}, "
                f"{info.get('ann_line', '?')})")

    def prepare_data(self, idx: int) -> Any:
        """Run the pipeline on sample ``idx``; an unreadable image raises
        an :class:`ImageReadError` naming it, or, with ``on_error='skip'``,
        the next readable sample is used instead (see the class doc)."""
        for _ in range(max(len(self), 1)):
            data_info = self.get_data_info(idx)
            img_path = data_info.get('img_path')
            try:
                data = self.pipeline(data_info)
            except Exception as e:  # noqa: BLE001 - re-raised below
                cause, data = e, None
            else:
                cause = None
            if data is not None:
                return data
            reason = probe_image(img_path) if img_path else None
            if reason is None:  # the image is fine: the cause is elsewhere
                if cause is not None:
                    cause.add_note(f'while preparing {self.split_name}: '
                                   f'{self.describe_sample(idx)}')
                    raise cause
                return None  # the pipeline chose to drop it (mmengine)
            self.bad_images.report(idx, reason, self.split_name,
                                   self.describe_sample, cause)
            idx = (idx + 1) % len(self)
        raise ImageReadError(f'{self.split_name}: no image of '
                             f'{self.ann_file or self.img_prefix} can be '
                             'read')

    def extra_repr(self) -> List[str]:
        body = super().extra_repr()
        tree = self._metainfo.get('class_tree')
        if tree is not None:
            body.append(f'Class tree: \t{tree!r}')
        if self.skipped:
            body.append(f'Skipped annotations: \t{len(self.skipped)}')
        return body
