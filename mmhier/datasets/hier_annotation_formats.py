# Copyright (c) mmhier contributors. All rights reserved.
"""The annotation formats of HierDataset: text lines, JSON and folders."""
import json
import os.path as osp
from typing import Any, List, Tuple

from mmengine.fileio import get_file_backend
from mmengine.fileio.backends import LocalBackend

from mmhier.structures import ClassTree, TreeError
from .label_parsing import AnnotationError, IssueLog


class HierAnnotationFormatsMixin:
    """Readers of :class:`HierDataset`'s annotation formats.

    Each reader returns ``(where, data info)`` pairs, ``where`` naming the
    line, entry or file for messages. Expects what the dataset provides:
    ``ann_file``, ``img_prefix``, ``extensions``, ``on_error``,
    ``_metainfo``, ``_set_tree``, ``_require_tree``, ``_encoder`` and
    ``_make_info``.
    """

    def _load_text(self, text: str, log: IssueLog) -> List[Tuple[str, dict]]:
        self._require_tree(self.ann_file)
        encoder = self._encoder()
        entries = []
        num_lines = 0
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith('#'):
                continue
            num_lines += 1
            where = f'line {lineno}'
            if '\t' in line:
                img, _, label = line.partition('\t')
            else:
                img, _, label = line.partition(' ')
            img, label = img.strip(), label.strip()
            if not img or not label:
                log.report(
                    where, f'malformed line {raw!r}: expected '
                    "'<image path> <label>' (label: a node name or an "
                    "'a/b/c' path, several joined by ';')")
                continue
            pieces = [p.strip() for p in label.split(';')]
            if any(not p for p in pieces):
                log.report(
                    where, f'malformed line {raw!r}: empty label '
                    "between ';' separators")
                continue
            try:
                paths = encoder.encode_many(pieces)
            except ValueError as e:
                log.report(where, str(e))
                continue
            entries.append(
                (where, self._make_info(where, img, paths, encoder)))
        if not num_lines:
            raise AnnotationError(f'{self.ann_file}: the annotation file is '
                                  'empty (no annotation line)')
        return entries

    # ------------------------------------------------------------------
    def _load_json(self, text: str, log: IssueLog) -> List[Tuple[str, dict]]:
        file = self.ann_file
        if not text.strip():
            raise AnnotationError(f'{file}: the annotation file is empty')
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise AnnotationError(f'{file}, line {e.lineno}: invalid JSON: '
                                  f'{e.msg}') from None
        if not isinstance(data, dict) or not isinstance(
                data.get('data_list'), list):
            raise AnnotationError(
                f'{file}: expected the OpenMMLab 2.0 format {{"metainfo": '
                '{...}, "data_list": [...]}, got '
                f'{type(data).__name__} without a data_list list')
        meta = data.get('metainfo') or {}
        if not isinstance(meta, dict):
            raise AnnotationError(f'{file}: metainfo must be an object, got '
                                  f'{meta!r:.80}')
        self._tree_from_file_meta(meta)
        encoder = self._encoder()
        if not data['data_list']:
            raise AnnotationError(f'{file}: the annotation file is empty '
                                  '(data_list has no entry)')
        entries = []
        for k, item in enumerate(data['data_list']):
            where = f'data_list[{k}]'
            if not isinstance(item, dict):
                log.report(
                    where, f'malformed entry {item!r:.80}: expected '
                    'an object with img_path and gt_label')
                continue
            missing = [
                key for key in ('img_path', 'gt_label') if key not in item
            ]
            if missing or not isinstance(item['img_path'], str):
                log.report(
                    where, f'malformed entry {item!r:.80}: ' +
                    (f'missing {missing}'
                     if missing else 'img_path must be a string'))
                continue
            coarse = item.get('coarse_only', False)
            if not isinstance(coarse, bool):
                log.report(
                    where, f'coarse_only must be true or false, got '
                    f'{coarse!r}')
                continue
            try:
                paths = encoder.encode_many(
                    json_paths(item['gt_label']), coarse_only=coarse)
            except ValueError as e:
                log.report(where, str(e))
                continue
            extra = {
                key: v
                for key, v in item.items()
                if key not in ('img_path', 'gt_label', 'coarse_only')
            }
            entries.append(
                (where,
                 self._make_info(where, item['img_path'], paths, encoder,
                                 extra)))
        return entries

    def _tree_from_file_meta(self, meta: dict) -> None:
        """Take the tree (and other metainfo) from the annotation file;
        the config's own metainfo wins, as in mmengine."""
        meta = dict(meta)
        source = meta.pop('tree', None)
        if self._metainfo.get('class_tree') is None:
            if source is None:
                self._require_tree(self.ann_file)
            if isinstance(source, str) and not osp.isabs(source):
                source = osp.join(osp.dirname(self.ann_file), source)
            try:
                tree = ClassTree.build(source)
            except (TreeError, TypeError, FileNotFoundError) as e:
                raise AnnotationError(f'{self.ann_file}: metainfo tree: '
                                      f'{e}') from None
            self._set_tree(tree)
        for k, v in meta.items():
            if k == 'classes':
                if list(v) != list(self._metainfo['classes']):
                    raise AnnotationError(
                        f'{self.ann_file}: metainfo classes do not match the '
                        'class tree nodes (in index order)')
                continue
            self._metainfo.setdefault(k, v)

    # ------------------------------------------------------------------
    def _load_folder(self, log: IssueLog) -> List[Tuple[str, dict]]:
        root = self.img_prefix
        if not root:
            raise ValueError('the folder layout needs data_prefix (or '
                             'data_root): the folder holding the class '
                             'folders')
        backend = get_file_backend(root, enable_singleton=True)
        files = sorted(
            f for f in backend.list_dir_or_file(
                root, list_dir=False, recursive=True)
            if osp.splitext(f)[1].lower() in self.extensions)
        if not files:
            raise AnnotationError(
                f'{root}: no image found (extensions {self.extensions})')
        folders = [f.replace('\\', '/').split('/')[:-1] for f in files]
        if self._metainfo.get('class_tree') is None:
            lines = sorted({'/'.join(d) for d in folders if d})
            if not lines:
                raise AnnotationError(f'{root}: no class folder; images must '
                                      'sit in folders named after the nodes')
            self._set_tree(ClassTree.from_paths(lines, source=root))
        encoder = self._encoder()
        entries = []
        for rel, parts in zip(files, folders):
            if not parts:
                log.report(rel, 'image is not inside a class folder')
                continue
            try:
                paths = encoder.encode_many([parts])
            except ValueError as e:
                log.report(rel, str(e))
                continue
            entries.append((rel, self._make_info(rel, rel, paths, encoder)))
        return entries

    # ------------------------------------------------------------------
    def _drop_missing(self, entries: List[Tuple[str, dict]],
                      log: IssueLog) -> List[Tuple[str, dict]]:
        """Check that every listed image exists (one clear error listing how
        many are missing and the first few)."""
        if not entries:
            return entries
        first = entries[0][1]['img_path']
        backend = get_file_backend(first, enable_singleton=True)
        exists = osp.isfile if isinstance(backend,
                                          LocalBackend) else backend.exists
        missing = [(w, info['img_path']) for w, info in entries
                   if not exists(info['img_path'])]
        if not missing:
            return entries
        listed = '; '.join(f'{w}: {p}' for w, p in missing[:5])
        msg = (f'{len(missing)} of {len(entries)} image files listed in '
               f'{self.ann_file} do not exist (first: {listed})')
        if self.on_error == 'raise':
            raise AnnotationError(msg)
        for w, p in missing:
            log.issues.append(f'{self.ann_file}, {w}: missing image {p}')
        gone = {w for w, _ in missing}
        return [(w, info) for w, info in entries if w not in gone]


def json_paths(gt_label: Any) -> List[Any]:
    """The label paths of a JSON ``gt_label``: a name / index / path string
    is one path, a flat list is one path, a list holding lists is several
    paths."""
    if isinstance(gt_label, list):
        if not gt_label:
            raise ValueError('empty gt_label')
        if any(isinstance(x, list) for x in gt_label):
            return gt_label
        return [gt_label]
    if isinstance(gt_label, (str, int)) and not isinstance(gt_label, bool):
        return [gt_label]
    raise ValueError(f'gt_label must be a node name, a node index, a path or '
                     f'a list of paths, got {gt_label!r}')
