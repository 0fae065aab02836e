# Copyright (c) mmhier contributors. All rights reserved.
"""Derive the Fashion-MNIST class trees from WordNet 3.0.

Fashion-MNIST ships no hierarchy. This script builds two from WordNet's
is-a (hypernym) links, read from ``data.noun`` (Debian ``wordnet-base``:
``/usr/share/wordnet/data.noun``), and writes them in the ClassTree JSON
format (Open Images nesting) into ``mmhier/datasets/trees/``:

- ``fashion_mnist_fixed.json``: depth 3, every class a leaf at level 3
  (for the fixed-path-length CNN-RNN models).
- ``fashion_mnist_variable.json``: WordNet followed literally; leaves at
  levels 1 to 5 and one class (Shirt) that is an inner node (for CNN-S2S).

The senses were chosen by hand, one per class (WordNet 3.0 offsets, written
``nXXXXXXXX`` as ImageNet does):

====  ============  =========  ==========================================
idx   class         synset     lemmas / why
====  ============  =========  ==========================================
0     T-shirt/top   n03595614  jersey, T-shirt, tee_shirt ("a close-fitting
                               pullover shirt")
1     Trouser       n04489008  trouser, pant (the garment, not 04488530
                               "trouser leg")
2     Pullover      n04021028  pullover, slipover
3     Dress         n03236735  dress, frock
4     Coat          n03057021  coat (outer garment)
5     Sandal        n04133789  sandal
6     Shirt         n04197391  shirt
7     Sneaker       n03472535  gym_shoe, sneaker, tennis_shoe
8     Bag           n02773037  bag (sense 1, "a flexible container with a
                               single opening": covers handbags, shoulder
                               bags and backpacks alike)
9     Ankle boot    n02872752  boot (WordNet has no "ankle boot")
====  ============  =========  ==========================================

Hypernyms are followed upwards through the first ``@`` pointer of each
synset (only ``clothing`` has two: ``covering`` and ``consumer_goods``; the
first, ``covering``, is kept). All ten chains meet at ``artifact``
(n00021939), which becomes the root.

Fixed-depth tree (depth 3): level 1 is the coarse kind of object
(``clothing`` n03051540, ``footwear`` n03380867, ``container`` n03094503);
level 2 is the synset directly below that level-1 node on the class's chain
(``garment``, ``woman's_clothing``, ``shoe``, ``boot``, ``bag``); level 3 is
the class. Where the class's own synset is the level-2 node (boot, bag), the
class is a narrower category below it (an ankle boot is a boot; the
Fashion-MNIST bags are bags).

Variable-depth tree: the union of the chains below ``artifact``, with every
synset that is not a class and has a single child removed (its child moves
up): a node that can only be followed by one child adds a step but no
information. ``shirt`` stays an inner node: the ``Shirt`` class is labelled
with it and ``T-shirt_top`` (a T-shirt is a shirt in WordNet) is its child.

Names: classes use the Fashion-MNIST names with ``/`` replaced (``/`` joins
path parts in labels), capitalised as in mmpretrain; WordNet synsets use
their first lemma, lower-case. Each node's ``Id`` holds the synset used and
each class's ``DisplayName`` the official class name. Children are ordered
by the smallest class index below them, so that the files are reproducible.

Usage::

    python tools/dataset_converters/fashion_mnist_wordnet_tree.py \\
        --wordnet /usr/share/wordnet/data.noun --out-dir mmhier/datasets/trees
    # or check that the committed files are what WordNet gives:
    python tools/dataset_converters/fashion_mnist_wordnet_tree.py --check
"""
import argparse
import filecmp
import os
import os.path as osp
import sys
import tempfile
from typing import Dict, List, NamedTuple, Optional, Tuple

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
DEFAULT_OUT = osp.join(REPO, 'mmhier', 'datasets', 'trees')
DEFAULT_WORDNET = '/usr/share/wordnet/data.noun'
FIXED_FILE = 'fashion_mnist_fixed.json'
VARIABLE_FILE = 'fashion_mnist_variable.json'


class Sense(NamedTuple):
    index: int  # Fashion-MNIST label
    display: str  # official class name
    node: str  # node name in the trees
    offset: str  # WordNet 3.0 noun offset
    lemma: str  # a lemma the synset must have (guards the WordNet version)


SENSES = (
    Sense(0, 'T-shirt/top', 'T-shirt_top', '03595614', 'T-shirt'),
    Sense(1, 'Trouser', 'Trouser', '04489008', 'trouser'),
    Sense(2, 'Pullover', 'Pullover', '04021028', 'pullover'),
    Sense(3, 'Dress', 'Dress', '03236735', 'dress'),
    Sense(4, 'Coat', 'Coat', '03057021', 'coat'),
    Sense(5, 'Sandal', 'Sandal', '04133789', 'sandal'),
    Sense(6, 'Shirt', 'Shirt', '04197391', 'shirt'),
    Sense(7, 'Sneaker', 'Sneaker', '03472535', 'sneaker'),
    Sense(8, 'Bag', 'Bag', '02773037', 'bag'),
    Sense(9, 'Ankle boot', 'Ankle boot', '02872752', 'boot'),
)
ROOT = '00021939'  # artifact: where all ten chains meet
FIXED_LEVEL1 = ('03051540', '03380867', '03094503')  # clothing, footwear,
# container


class Synset(NamedTuple):
    lemmas: List[str]
    hypernyms: List[str]


def read_data_noun(path: str) -> Dict[str, Synset]:
    """Parse WordNet's ``data.noun`` into offset -> (lemmas, hypernyms)."""
    synsets: Dict[str, Synset] = {}
    with open(path, encoding='latin-1') as f:
        for line in f:
            if line.startswith('  '):  # licence header
                continue
            fields = line.split(' | ', 1)[0].split()
            offset, num_words = fields[0], int(fields[3], 16)
            lemmas = [fields[4 + 2 * i] for i in range(num_words)]
            p = 4 + 2 * num_words
            num_ptrs = int(fields[p])
            hypernyms = []
            for k in range(num_ptrs):
                symbol, target, pos = fields[p + 1 + 4 * k:p + 4 + 4 * k]
                if symbol in ('@', '@i') and pos == 'n':
                    hypernyms.append(target)
            synsets[offset] = Synset(lemmas, hypernyms)
    return synsets


def chain(synsets: Dict[str, Synset], offset: str) -> List[str]:
    """Offsets from ``offset`` up to (excluding) the root, first hypernym
    each time."""
    out = []
    while offset != ROOT:
        if offset not in synsets:
            raise KeyError(f'synset {offset} not in data.noun')
        out.append(offset)
        hyper = synsets[offset].hypernyms
        if not hyper:
            raise ValueError(f'synset {offset} {synsets[offset].lemmas} '
                             f'does not reach artifact ({ROOT})')
        offset = hyper[0]
    return out


def check_senses(synsets: Dict[str, Synset]) -> None:
    for s in SENSES:
        lemmas = [lem.lower() for lem in synsets[s.offset].lemmas]
        if s.lemma.lower() not in lemmas:
            raise ValueError(f'synset {s.offset} has lemmas {lemmas}, '
                             f'expected {s.lemma!r}: not WordNet 3.0?')


Node = Tuple[str, Optional[str], Optional[str], str]  # name, parent, disp, id


def _order(edges: Dict[str, Optional[str]], rank: Dict[str, int],
           names: Dict[str, str], display: Dict[str, Optional[str]]):
    """Nodes (name, parent name, display name, id) in a reproducible order:
    children by the smallest class index below them."""
    order = sorted(edges, key=lambda k: (rank[k], k))
    return [(names[k], names[edges[k]] if edges[k] else None, display[k],
             f'n{k.split("#")[0]}') for k in order]


def build_fixed(synsets: Dict[str, Synset]) -> List[Node]:
    edges: Dict[str, Optional[str]] = {}
    rank: Dict[str, int] = {}
    names: Dict[str, str] = {}
    display: Dict[str, Optional[str]] = {}
    for s in SENSES:
        up = chain(synsets, s.offset)
        top = next((i for i, o in enumerate(up) if o in FIXED_LEVEL1), None)
        if top is None:
            raise ValueError(f'{s.display}: no level-1 synset of the fixed '
                             f'tree on its chain {up}')
        level1, level2 = up[top], up[top - 1] if top else None
        if level2 is None:
            raise ValueError(f'{s.display}: its synset is a level-1 node')
        leaf = f'{s.offset}#class'  # the class, distinct from its synset
        for key, parent in ((level1, None), (level2, level1), (leaf, level2)):
            edges.setdefault(key, parent)
            rank[key] = min(rank.get(key, s.index), s.index)
        for key in (level1, level2):
            names[key] = synsets[key].lemmas[0].lower()
            display[key] = None
        names[leaf], display[leaf] = s.node, s.display
    return _order(edges, rank, names, display)


def build_variable(synsets: Dict[str, Synset]) -> List[Node]:
    parent: Dict[str, Optional[str]] = {}
    rank: Dict[str, int] = {}
    classes = {s.offset: s for s in SENSES}
    for s in SENSES:
        up = chain(synsets, s.offset)
        for child, par in zip(up, up[1:] + [None]):
            parent.setdefault(child, par)
            rank[child] = min(rank.get(child, s.index), s.index)
    # Drop single-child synsets that are not classes: their child moves up.
    while True:
        kids: Dict[Optional[str], List[str]] = {}
        for c, p in parent.items():
            kids.setdefault(p, []).append(c)
        lone = sorted(
            k for k in parent
            if k not in classes and len(kids.get(k, ())) == 1)
        if not lone:
            break
        k = lone[0]
        only = kids[k][0]
        parent[only] = parent.pop(k)
    names = {
        k: classes[k].node if k in classes else synsets[k].lemmas[0].lower()
        for k in parent
    }
    display = {k: classes[k].display if k in classes else None for k in parent}
    return _order(parent, rank, names, display)


def write_tree(nodes: List[Node], path: str) -> None:
    # ClassTree writes the file, so that it reads back equal.
    sys.path.insert(0, REPO)
    from mmhier.structures import ClassTree
    tree = ClassTree([n[0] for n in nodes], [n[1] for n in nodes],
                     root_name='artifact',
                     display_names=[n[2] for n in nodes],
                     ids=[n[3] for n in nodes])
    tree.save(path)


def generate(wordnet: str,
             out_dir: str,
             synsets: Optional[Dict[str, Synset]] = None) -> List[str]:
    """Write both tree files into ``out_dir``; returns their paths."""
    synsets = synsets or read_data_noun(wordnet)
    check_senses(synsets)
    os.makedirs(out_dir, exist_ok=True)
    out = []
    for name, nodes in ((FIXED_FILE, build_fixed(synsets)),
                        (VARIABLE_FILE, build_variable(synsets))):
        path = osp.join(out_dir, name)
        write_tree(nodes, path)
        out.append(path)
    return out


def check(wordnet: str,
          out_dir: str,
          synsets: Optional[Dict[str, Synset]] = None) -> List[str]:
    """Names of the tree files in ``out_dir`` that differ from (or miss)
    what WordNet gives."""
    with tempfile.TemporaryDirectory() as tmp:
        differ = []
        for path in generate(wordnet, tmp, synsets):
            mine = osp.join(out_dir, osp.basename(path))
            if not osp.isfile(mine) or not filecmp.cmp(
                    path, mine, shallow=False):
                differ.append(osp.basename(path))
    return differ


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--wordnet', default=DEFAULT_WORDNET, help='WordNet 3.0 data.noun')
    parser.add_argument('--out-dir', default=DEFAULT_OUT)
    parser.add_argument(
        '--check',
        action='store_true',
        help='compare with the files in --out-dir instead of writing them; '
        'exit 1 if they differ')
    args = parser.parse_args(argv)
    if not osp.isfile(args.wordnet):
        parser.error(f'{args.wordnet} not found; install WordNet 3.0 '
                     '(Debian: apt-get install wordnet-base)')
    if not args.check:
        for path in generate(args.wordnet, args.out_dir):
            print(f'wrote {path}')
        return 0
    differ = check(args.wordnet, args.out_dir)
    if differ:
        print(f'differ from WordNet: {differ}')
        return 1
    print('the tree files match WordNet')
    return 0


if __name__ == '__main__':
    sys.exit(main())
