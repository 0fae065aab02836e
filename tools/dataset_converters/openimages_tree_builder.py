# Copyright (c) mmhier contributors. All rights reserved.
"""The output tree of ``openimages_hier.py``, built from a spec."""
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from mmhier.structures import ClassTree
from openimages_files import RELATIONS, ConversionError, Hierarchy, _is_mid


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
