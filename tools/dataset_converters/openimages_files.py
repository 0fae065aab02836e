# Copyright (c) mmhier contributors. All rights reserved.
"""Readers of the Open Images files for ``openimages_hier.py``.

Class descriptions, the hierarchy JSON and the (huge) label CSVs; every
error names the file and the line.
"""
import csv
import io
import json
import os
from collections import OrderedDict
from typing import Dict, Iterable, List, Sequence, Set, Tuple

from mmhier.utils.progress_bar import SparseProgressBar

RELATIONS = ('Subcategory', 'Part')
LABEL_COLUMNS = ('ImageID', 'Source', 'LabelName', 'Confidence')
NEEDED_COLUMNS = ('ImageID', 'LabelName', 'Confidence')


class ConversionError(ValueError):
    """Bad input; the message names the file and the line."""


def _is_mid(text: str) -> bool:
    return text.startswith('/m/') or text.startswith('/g/')


def read_class_descriptions(path: str) -> 'OrderedDict[str, str]':
    """MID -> display name; a header line is recognised and skipped."""
    names: 'OrderedDict[str, str]' = OrderedDict()
    with open(path, encoding='utf-8', newline='') as f:
        for lineno, row in enumerate(csv.reader(f), 1):
            if not row or not ''.join(row).strip():
                continue
            if len(row) < 2:
                raise ConversionError(
                    f'{path}, line {lineno}: expected LabelName,DisplayName, '
                    f'got {row!r}')
            mid, name = row[0].strip(), row[1].strip()
            if lineno == 1 and not _is_mid(mid):
                continue  # header (LabelName,DisplayName)
            if mid in names and names[mid] != name:
                raise ConversionError(f'{path}, line {lineno}: {mid} is '
                                      f'both {names[mid]!r} and {name!r}')
            names[mid] = name
    if not names:
        raise ConversionError(f'{path}: no class description')
    return names


class Hierarchy:
    """The Open Images hierarchy as child lists per relation.

    The JSON repeats nodes (a class under two parents is written twice, with
    its subtree); children lists are merged in order of first appearance.
    """

    def __init__(self, data: dict, source: str = '<hierarchy>'):
        if not isinstance(data, dict) or 'LabelName' not in data:
            raise ConversionError(f'{source}: the top object needs a '
                                  '"LabelName" (Open Images hierarchy)')
        self.root = data['LabelName']
        self.children: Dict[str, Dict[str, List[str]]] = {}
        self.parents: Dict[str, Dict[str, List[str]]] = {}
        stack = [data]
        while stack:
            node = stack.pop()
            mid = node.get('LabelName')
            if not isinstance(mid, str):
                raise ConversionError(f'{source}: a node without LabelName: '
                                      f'{node!r:.80}')
            for rel in RELATIONS:
                subs = node.get(rel) or []
                for sub in subs:
                    if not isinstance(sub, dict) or 'LabelName' not in sub:
                        raise ConversionError(
                            f'{source}: {rel} of {mid} holds {sub!r:.80}')
                    kid = sub['LabelName']
                    kids = self.children.setdefault(mid,
                                                    {}).setdefault(rel, [])
                    if kid not in kids:
                        kids.append(kid)
                    pars = self.parents.setdefault(kid, {}).setdefault(rel, [])
                    if mid not in pars:
                        pars.append(mid)
                stack.extend(reversed(subs))

    @classmethod
    def load(cls, path: str) -> 'Hierarchy':
        with open(path, encoding='utf-8') as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                raise ConversionError(f'{path}, line {e.lineno}: invalid '
                                      f'JSON: {e.msg}') from None
        return cls(data, path)

    def kids(self, mid: str, relations: Sequence[str]) -> List[str]:
        out: List[str] = []
        for rel in relations:
            for k in self.children.get(mid, {}).get(rel, []):
                if k not in out:
                    out.append(k)
        return out

    def ups(self, mid: str, relations: Sequence[str]) -> List[str]:
        out: List[str] = []
        for rel in relations:
            for p in self.parents.get(mid, {}).get(rel, []):
                if p not in out and p != self.root:
                    out.append(p)
        return out

    def mids(self) -> Set[str]:
        out = set(self.children) | set(self.parents)
        return out - {self.root}


class Counter(dict):
    """Counts of what the conversion met, by name."""

    def add(self, key: str, n: int = 1) -> None:
        self[key] = self.get(key, 0) + n


def _lines_with_progress(path: str, desc: str) -> Iterable[Tuple[int, str]]:
    """Lines of a (possibly huge) file with a byte-based progress bar."""
    size = max(os.path.getsize(path), 1)
    print(f'{desc}: {path}')
    bar = SparseProgressBar(size, desc=desc)
    done, step = 0, max(size // 100, 1 << 16)
    shown = 0
    with open(path, 'rb') as f:
        for lineno, raw in enumerate(f, 1):
            done += len(raw)
            if done - shown >= step:
                bar.update(done - shown)
                shown = done
            yield lineno, raw.decode('utf-8')
    if size - shown > 0:
        bar.update(size - shown)
    bar.close()


def read_labels(paths: Sequence[str], known: Set[str], label_map: Dict[str,
                                                                       int],
                min_confidence: float, on_error: str, counts: Counter,
                problems: List[str]) -> 'OrderedDict[str, List[int]]':
    """Image -> positive tree nodes (in order of appearance)."""
    images: 'OrderedDict[str, List[int]]' = OrderedDict()
    unknown_examples: 'OrderedDict[str, int]' = OrderedDict()
    for path in paths:
        cols = None
        for lineno, line in _lines_with_progress(path, 'reading labels'):
            if not line.strip():
                continue
            row = next(csv.reader(io.StringIO(line)))
            if lineno == 1 and 'ImageID' in row:
                missing = [c for c in NEEDED_COLUMNS if c not in row]
                if missing:
                    raise ConversionError(
                        f'{path}, line 1: the header {row} lacks {missing}')
                cols = [row.index(c) for c in NEEDED_COLUMNS]
                continue
            if cols is None:  # no header: the official column order
                cols = [LABEL_COLUMNS.index(c) for c in NEEDED_COLUMNS]
            counts.add('label_rows')
            try:
                image, mid, conf = (row[c].strip() for c in cols)
                confidence = float(conf)
                if not image or not mid:
                    raise ValueError('empty field')
            except (IndexError, ValueError):
                msg = (f'{path}, line {lineno}: malformed row {line.strip()!r}'
                       ': expected ImageID,Source,LabelName,Confidence')
                if on_error == 'raise':
                    raise ConversionError(msg) from None
                counts.add('malformed_rows')
                problems.append(msg)
                continue
            labels = images.setdefault(image, [])
            if confidence <= 0:
                counts.add('verified_negatives')
                continue
            if confidence < min_confidence:
                counts.add('low_confidence')
                continue
            counts.add('positives')
            if mid not in known:
                counts.add('unknown_labels')
                unknown_examples[mid] = unknown_examples.get(mid, 0) + 1
                continue
            node = label_map.get(mid)
            if node is None:
                counts.add('outside_tree')
                continue
            if node not in labels:
                labels.append(node)
    counts['unknown_label_examples'] = dict(
        list(unknown_examples.items())[:10])
    return images
