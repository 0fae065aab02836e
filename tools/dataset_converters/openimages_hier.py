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
import json
import os
import os.path as osp
import sys
from collections import OrderedDict
from typing import List, Tuple

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.dirname(osp.dirname(HERE)))
# the readers and the tree builder sit next to this script
sys.path.insert(0, HERE)

from mmengine.fileio import load as mmengine_load  # noqa: E402
from openimages_files import (LABEL_COLUMNS, NEEDED_COLUMNS,  # noqa: E402
                              RELATIONS, ConversionError, Counter, Hierarchy,
                              read_class_descriptions, read_labels)
from openimages_tree_builder import TreeBuilder  # noqa: E402

from mmhier.structures import ClassTree  # noqa: E402
from mmhier.utils.progress_bar import SparseProgressBar  # noqa: E402

__all__ = [
    'RELATIONS', 'LABEL_COLUMNS', 'NEEDED_COLUMNS', 'ConversionError',
    'Counter', 'Hierarchy', 'TreeBuilder', 'read_class_descriptions',
    'read_labels', 'image_paths', 'convert', 'print_summary', 'parse_args',
    'main'
]


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
