# Copyright (c) mmhier contributors. All rights reserved.
"""Open Images image-level labels -> an mmhier annotation file and tree.

Reads the official Open Images files:

- class descriptions CSV: ``LabelName,DisplayName`` (``/m/0bl9f,Entity``),
  with or without a header line;
- the hierarchy JSON: nested ``{"LabelName": ..., "Subcategory": [...],
  "Part": [...]}`` (``Subcategory`` is is-a, ``Part`` is has-a);
- one or more image-level labels CSVs: ``ImageID,Source,LabelName,
  Confidence`` (header line optional). Confidence 0 marks a verified
  negative: never a positive.

and a small **spec** file (JSON or YAML) choosing the tree::

    {
      "relations": ["Subcategory", "Part"],   # links followed below
      "map_descendants": false,               # or a list of relations
      "tree": [node, ...]                     # the level-1 nodes
    }

where a ``node`` is

- ``"Human foot"`` or ``"/m/031n1"``: an Open Images class (display name or
  MID), a leaf;
- ``{"class": "Human body", "children": [node, ...]}``: a class with
  explicit children (any classes: this is how subtrees are concatenated);
- ``{"class": "Footwear", "subtree": true, "depth": 2, "exclude": [...]}``:
  a class and its Open Images descendants along ``relations`` (``depth``
  levels below it at most);
- ``{"group": "Human outfit", "children": [...]}``: a node that is no Open
  Images class (no label maps to it directly);
- any of the class forms may add ``"name"`` to rename the node.

Instead of ``tree``, ``"classes": [...]`` keeps a list of classes and
induces the tree from the hierarchy: each class hangs below its nearest
listed ancestor (along ``relations``), or at level 1.

An image keeps one path per positive label that is a node of the tree
(multi-label). With ``map_descendants`` (e.g. ``["Subcategory"]``), a label
below a tree node in the hierarchy but not itself in the tree maps to its
nearest tree ancestor (a Boot is a Footwear). Paths that are an ancestor of
another path of the same image are dropped unless ``--keep-ancestor-paths``
(they add nothing to the multi-hot targets). Images without any positive
label in the tree are dropped and counted.

Output (``--out-dir``): ``<name>_tree.json`` (ClassTree's Open Images
format, display names as node names, MIDs as ``Id``), ``<name>.json``
(OpenMMLab 2.0 annotation for ``HierDataset(multi_label=True)``; or
``<name>.txt`` with ``--format txt``) and ``<name>_summary.json``.

Example::

    python tools/dataset_converters/openimages_hier.py \\
        --class-descriptions oidv6-class-descriptions.csv \\
        --hierarchy bbox_labels_600_hierarchy.json \\
        --labels oidv6-train-annotations-human-imagelabels.csv \\
        --spec tools/dataset_converters/specs/dhnn_oi_tree.json \\
        --out-dir data/openimages/mmhier --name train --img-prefix train/
"""
import argparse
import csv
import io
import json
import os
import os.path as osp
import sys
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.dirname(osp.dirname(HERE)))

from mmengine.fileio import load as mmengine_load  # noqa: E402

from mmhier.structures import ClassTree  # noqa: E402
from mmhier.utils.progress_bar import SparseProgressBar  # noqa: E402

RELATIONS = ('Subcategory', 'Part')
LABEL_COLUMNS = ('ImageID', 'Source', 'LabelName', 'Confidence')
NEEDED_COLUMNS = ('ImageID', 'LabelName', 'Confidence')


class ConversionError(ValueError):
    """Bad input; the message names the file and the line."""


# ----------------------------------------------------------------------
# reading the Open Images files
# ----------------------------------------------------------------------
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


# ----------------------------------------------------------------------
# the tree from the spec
# ----------------------------------------------------------------------
class TreeBuilder:
    """Builds the output tree (names, parents, MIDs) from a spec."""

    def __init__(self, spec: dict, names: Dict[str, str], hierarchy: Hierarchy,
                 source: str):
        self.spec = spec
        self.names = names
        self.hierarchy = hierarchy
        self.source = source
        self.relations = list(spec.get('relations', RELATIONS))
        bad = [r for r in self.relations if r not in RELATIONS]
        if bad:
            raise ConversionError(f'{source}: unknown relations {bad}; use '
                                  f'{list(RELATIONS)}')
        self.by_display: Dict[str, List[str]] = {}
        for mid, name in names.items():
            self.by_display.setdefault(name, []).append(mid)
        self.nodes: List[Tuple[str, Optional[str], Optional[str],
                               Optional[str]]] = []  # name, parent, disp, mid
        self.mid_to_node: Dict[str, str] = {}
        self.excluded: Set[str] = set()  # never mapped to a tree node
        self.notes: List[str] = []

    def resolve(self, ref: str, where: str) -> str:
        """A MID from a MID or a display name."""
        if not isinstance(ref, str) or not ref.strip():
            raise ConversionError(f'{self.source}, {where}: expected a class '
                                  f'name or MID, got {ref!r}')
        ref = ref.strip()
        if _is_mid(ref):
            if ref not in self.names and ref not in self.hierarchy.mids():
                raise ConversionError(f'{self.source}, {where}: unknown MID '
                                      f'{ref}')
            return ref
        mids = self.by_display.get(ref)
        if not mids:
            raise ConversionError(f'{self.source}, {where}: unknown class '
                                  f'{ref!r} (not a DisplayName of the class '
                                  'descriptions)')
        if len(mids) > 1:
            raise ConversionError(f'{self.source}, {where}: {ref!r} names '
                                  f'several classes {mids}; use the MID')
        return mids[0]

    def add(self, name: str, parent: Optional[str], mid: Optional[str],
            where: str) -> None:
        name = name.strip()
        if '/' in name:
            fixed = name.replace('/', '-')
            self.notes.append(f"renamed {name!r} to {fixed!r} ('/' joins "
                              'path parts)')
            name = fixed
        if any(n[0] == name for n in self.nodes):
            raise ConversionError(f'{self.source}, {where}: node {name!r} is '
                                  'in the tree twice; rename one with '
                                  '"name"')
        if mid is not None:
            if mid in self.mid_to_node:
                raise ConversionError(
                    f'{self.source}, {where}: class {mid} '
                    f'({self.names.get(mid, mid)}) is in the tree twice')
            self.mid_to_node[mid] = name
        display = self.names.get(mid) if mid else None
        self.nodes.append((name, parent, display, mid))

    def node(self, spec: Any, parent: Optional[str], where: str) -> None:
        if isinstance(spec, str):
            mid = self.resolve(spec, where)
            self.add(self.names.get(mid, mid), parent, mid, where)
            return
        if not isinstance(spec, dict):
            raise ConversionError(f'{self.source}, {where}: a node is a class '
                                  f'name or an object, got {spec!r:.80}')
        unknown = set(spec) - {
            'class', 'group', 'name', 'children', 'subtree', 'depth', 'exclude'
        }
        if unknown:
            raise ConversionError(f'{self.source}, {where}: unknown keys '
                                  f'{sorted(unknown)}')
        if ('class' in spec) == ('group' in spec):
            raise ConversionError(f'{self.source}, {where}: give exactly one '
                                  'of "class" and "group"')
        if 'group' in spec:
            mid, name = None, spec['group']
        else:
            mid = self.resolve(spec['class'], where)
            name = spec.get('name') or self.names.get(mid, mid)
        self.add(name, parent, mid, where)
        name = self.nodes[-1][0]
        if spec.get('subtree'):
            if mid is None:
                raise ConversionError(f'{self.source}, {where}: a group has '
                                      'no Open Images subtree')
            exclude = {
                self.resolve(e, f'{where}.exclude')
                for e in spec.get('exclude', [])
            }
            self.excluded |= exclude
            self.copy_subtree(mid, name, spec.get('depth'), exclude, where)
        for k, child in enumerate(spec.get('children', [])):
            self.node(child, name, f'{where}.children[{k}]')

    def copy_subtree(self, mid: str, name: str, depth: Optional[int],
                     exclude: Set[str], where: str) -> None:
        frontier = [(mid, name)]
        level = 0
        while frontier and (depth is None or level < depth):
            nxt = []
            for m, n in frontier:
                for kid in self.hierarchy.kids(m, self.relations):
                    if kid in exclude:
                        continue
                    if kid in self.mid_to_node:
                        self.notes.append(
                            f'{self.names.get(kid, kid)} is reached twice '
                            f'in the subtree of {name}; kept the first')
                        continue
                    self.add(self.names.get(kid, kid), n, kid, where)
                    nxt.append((kid, self.nodes[-1][0]))
            frontier = nxt
            level += 1

    def induced(self, classes: Sequence[str]) -> None:
        """Each listed class below its nearest listed ancestor."""
        mids = [
            self.resolve(c, f'classes[{k}]') for k, c in enumerate(classes)
        ]
        listed = set(mids)
        parent_of: Dict[str, Optional[str]] = {}
        for mid in mids:
            seen, frontier, found = set(), [mid], None
            while frontier and found is None:
                nxt = []
                for m in frontier:
                    for p in self.hierarchy.ups(m, self.relations):
                        if p in listed:
                            found = p
                            break
                        if p not in seen:
                            seen.add(p)
                            nxt.append(p)
                    if found:
                        break
                frontier = nxt
            parent_of[mid] = found
        placed: Set[str] = set()
        while len(placed) < len(mids):
            progress = False
            for mid in mids:
                if mid in placed:
                    continue
                par = parent_of[mid]
                if par is None or par in placed:
                    self.add(
                        self.names.get(mid, mid),
                        self.mid_to_node[par] if par else None, mid, 'classes')
                    placed.add(mid)
                    progress = True
            if not progress:
                raise ConversionError(f'{self.source}: classes form a cycle')

    def build(self) -> ClassTree:
        if 'tree' in self.spec and 'classes' in self.spec:
            raise ConversionError(f'{self.source}: give "tree" or "classes", '
                                  'not both')
        if 'tree' in self.spec:
            for k, spec in enumerate(self.spec['tree']):
                self.node(spec, None, f'tree[{k}]')
        elif 'classes' in self.spec:
            self.induced(self.spec['classes'])
        else:
            raise ConversionError(f'{self.source}: the spec needs "tree" or '
                                  '"classes"')
        if not self.nodes:
            raise ConversionError(f'{self.source}: the tree is empty')
        return ClassTree([n[0] for n in self.nodes],
                         [n[1] for n in self.nodes],
                         display_names=[n[2] for n in self.nodes],
                         ids=[n[3] for n in self.nodes])

    def label_map(self, tree: ClassTree) -> Dict[str, int]:
        """MID -> node index, with mapped descendants if asked."""
        out = {mid: tree.index(n) for mid, n in self.mid_to_node.items()}
        rels = self.spec.get('map_descendants', False)
        if rels is True:
            rels = ['Subcategory']
        if not rels:
            return out
        # Every class below a tree node (and not itself a node) maps to the
        # nearest tree node above it.
        frontier = list(self.mid_to_node)
        dist = {m: 0 for m in frontier}
        while frontier:
            nxt = []
            for m in frontier:
                for kid in self.hierarchy.kids(m, rels):
                    if kid not in dist and kid not in self.excluded:
                        dist[kid] = dist[m] + 1
                        out[kid] = out[m]
                        nxt.append(kid)
            frontier = nxt
        return out


# ----------------------------------------------------------------------
# labels
# ----------------------------------------------------------------------
class Counter(dict):

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


def image_paths(tree: ClassTree, nodes: List[int],
                keep_ancestors: bool) -> Tuple[List[List[str]], int]:
    """Name paths of an image's nodes, dropping ancestors of other nodes."""
    keep = list(nodes)
    dropped = 0
    if not keep_ancestors:
        below = {a for n in nodes for a in tree.path(n)[:-1]}
        keep = [n for n in nodes if n not in below]
        dropped = len(nodes) - len(keep)
    keep.sort()
    return [tree.decode(tree.path(n)) for n in keep], dropped


def convert(args: argparse.Namespace) -> dict:
    names = read_class_descriptions(args.class_descriptions)
    hierarchy = Hierarchy.load(args.hierarchy)
    spec = mmengine_load(args.spec)
    if not isinstance(spec, dict):
        raise ConversionError(f'{args.spec}: the spec must be an object')
    builder = TreeBuilder(spec, names, hierarchy, args.spec)
    tree = builder.build()
    label_map = builder.label_map(tree)
    known = set(names) | hierarchy.mids()

    counts = Counter()
    problems: List[str] = []
    images = read_labels(args.labels, known, label_map, args.min_confidence,
                         args.on_error, counts, problems)

    os.makedirs(args.out_dir, exist_ok=True)
    tree_file = osp.join(args.out_dir, f'{args.name}_tree.json')
    tree.save(tree_file)

    data_list = []
    per_node = [0] * tree.num_nodes
    per_level = [0] * tree.max_depth
    print(f'writing {len(images)} images')
    bar = SparseProgressBar(len(images), desc='writing')
    for k, (image, nodes) in enumerate(images.items(), 1):
        if k % 1000 == 0 or k == len(images):
            bar.update(1000 if k % 1000 == 0 else k % 1000)
        if not nodes:
            counts.add('images_dropped')
            continue
        paths, dropped = image_paths(tree, nodes, args.keep_ancestor_paths)
        counts.add('ancestor_paths_dropped', dropped)
        counts.add('paths', len(paths))
        counts.add('images_kept')
        on_path = {a for n in nodes for a in tree.path(n)}
        for n in on_path:
            per_node[n] += 1
        for d in range(int(max(tree.depths[n] for n in nodes))):
            per_level[d] += 1
        data_list.append((f'{args.img_prefix}{image}{args.img_ext}', paths))
    bar.close()
    counts['images'] = len(images)
    if not data_list:
        raise ConversionError('no image has a positive label in the tree; '
                              'nothing to write')

    if args.format == 'json':
        ann_file = osp.join(args.out_dir, f'{args.name}.json')
        with open(ann_file, 'w', encoding='utf-8') as f:
            json.dump(
                {
                    'metainfo': {
                        'tree': osp.basename(tree_file),
                        'source': 'Open Images image-level labels',
                    },
                    'data_list': [{
                        'img_path': p,
                        'gt_label': paths
                    } for p, paths in data_list]
                },
                f,
                ensure_ascii=False)
    else:
        ann_file = osp.join(args.out_dir, f'{args.name}.txt')
        with open(ann_file, 'w', encoding='utf-8') as f:
            for p, paths in data_list:
                f.write(p + '\t' + ';'.join('/'.join(x) for x in paths) + '\n')
    summary = OrderedDict(
        tree=tree_file,
        annotations=ann_file,
        num_nodes=tree.num_nodes,
        nodes_per_level=[len(lv) for lv in tree.levels],
        samples_per_level=per_level,
        samples_per_node=OrderedDict(zip(tree.names, per_node)),
        notes=builder.notes,
        problems=problems[:20],
        **{
            k: counts.get(k, 0)
            for k in ('label_rows', 'positives', 'verified_negatives',
                      'low_confidence', 'unknown_labels', 'outside_tree',
                      'malformed_rows', 'images', 'images_kept',
                      'images_dropped', 'paths', 'ancestor_paths_dropped')
        },
        unknown_label_examples=counts.get('unknown_label_examples', {}))
    with open(osp.join(args.out_dir, f'{args.name}_summary.json'), 'w') as f:
        json.dump(summary, f, indent=1, ensure_ascii=False)
    print_summary(summary)
    return summary


def print_summary(s: dict) -> None:
    print(f"tree: {s['num_nodes']} nodes, per level {s['nodes_per_level']}"
          f" -> {s['tree']}")
    print(f"label rows {s['label_rows']}: positives {s['positives']}, "
          f"verified negatives {s['verified_negatives']}, low confidence "
          f"{s['low_confidence']}, malformed {s['malformed_rows']}")
    print(f"positive labels: unknown {s['unknown_labels']}, outside the tree"
          f" {s['outside_tree']}")
    print(f"images {s['images']}: kept {s['images_kept']}, dropped (no "
          f"label in the tree) {s['images_dropped']}; paths {s['paths']} "
          f"(ancestor paths dropped {s['ancestor_paths_dropped']})")
    print(f"samples per level: {s['samples_per_level']}")
    for note in s['notes']:
        print(f'note: {note}')
    print(f"annotations -> {s['annotations']}")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='Open Images labels -> mmhier annotation and tree')
    p.add_argument('--class-descriptions', required=True)
    p.add_argument('--hierarchy', required=True)
    p.add_argument(
        '--labels',
        required=True,
        nargs='+',
        help='image-level labels CSV file(s)')
    p.add_argument('--spec', required=True, help='tree spec (JSON / YAML)')
    p.add_argument('--out-dir', required=True)
    p.add_argument(
        '--name', default='openimages', help='prefix of the output files')
    p.add_argument(
        '--img-prefix', default='', help='prefix of img_path, e.g. "train/"')
    p.add_argument('--img-ext', default='.jpg')
    p.add_argument('--format', choices=('json', 'txt'), default='json')
    p.add_argument(
        '--min-confidence',
        type=float,
        default=0.5,
        help='positives need Confidence >= this (and > 0)')
    p.add_argument('--keep-ancestor-paths', action='store_true')
    p.add_argument(
        '--on-error',
        choices=('raise', 'skip'),
        default='raise',
        help='for malformed label rows')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        convert(args)
    except ConversionError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
