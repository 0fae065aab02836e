# Copyright (c) mmhier contributors. All rights reserved.
"""Reading and writing a ClassTree: JSON, parent lists, paths and dicts.

Formats (:meth:`~ClassTreeFormatsMixin.load` / ``save``, by extension):
``.json`` (the Open Images hierarchy), ``.tsv`` / ``.csv`` (parent lists),
``.txt`` (one path per line); nested dicts come from configs.
"""
import csv
import json
import os
import os.path as osp
from typing import (TYPE_CHECKING, Any, Dict, Iterable, List, Mapping,
                    Optional, Sequence, Tuple, Union)

from .tree_constants import ROOT_NAME
from .tree_validation import TreeEdge, TreeError, resolve_dag

if TYPE_CHECKING:
    from .class_tree import ClassTree

_FORMATS = {
    '.json': 'json',
    '.tsv': 'tsv',
    '.csv': 'csv',
    '.txt': 'paths',
}
# Keys of the Open Images hierarchy JSON that ClassTree reads and writes.
_OI_NAME, _OI_CHILDREN = 'LabelName', 'Subcategory'
_OI_DISPLAY, _OI_ID = 'DisplayName', 'Id'


class ClassTreeFormatsMixin:
    """The constructors and writers of :class:`ClassTree`, one per format.

    Every constructor turns its source into :class:`TreeEdge` s and hands
    them to ``ClassTree._new``, which checks and indexes them.
    """

    @classmethod
    def build(cls, cfg: Any, **kwargs) -> 'ClassTree':
        """Build from a ClassTree, a file path, a nested dict, an Open
        Images hierarchy dict (``{'LabelName': ..., 'Subcategory': [...]}``)
        or a ``dict(file=..., **load_kwargs)``."""
        # Only ClassTree has this mixin.
        if isinstance(cfg, ClassTreeFormatsMixin):
            return cfg
        if isinstance(cfg, (str, os.PathLike)):
            return cls.load(cfg, **kwargs)
        if isinstance(cfg, Mapping):
            if isinstance(cfg.get('file'), (str, os.PathLike)) and set(
                    cfg) <= {'file', 'fmt', 'dag_rule', 'relations'}:
                cfg = dict(cfg)
                return cls.load(cfg.pop('file'), **cfg, **kwargs)
            if isinstance(cfg.get(_OI_NAME), str):
                # An Open Images hierarchy already parsed (e.g. embedded in
                # an annotation file's metainfo).
                return cls.from_openimages(cfg, source='<hierarchy dict>',
                                           **kwargs)
            return cls.from_dict(cfg, **kwargs)
        raise TypeError('a class tree is given as a ClassTree, a file path '
                        f'or a nested dict, got {type(cfg).__name__}')

    @classmethod
    def from_edges(cls,
                   edges: Iterable[Union[Tuple[str, Optional[str]],
                                         Tuple[str, Optional[str], str]]],
                   root_name: Optional[str] = None,
                   dag_rule: Optional[str] = None,
                   source: str = '<edges>') -> 'ClassTree':
        """Build from ``(child, parent[, where])`` pairs.

        Args:
            edges: Child / parent names; ``where`` (e.g. ``'file:3'``) is
                used in error messages.
            root_name: Name of the root when top-level nodes have no parent.
            dag_rule: What to do with a node listed under two parents (a
                DAG, as in WordNet): ``None`` refuses it, ``'first'`` keeps
                the first parent and logs every dropped link.
            source: Name of the source, for error messages.
        """
        items = []
        for k, e in enumerate(edges):
            where = e[2] if len(e) > 2 else f'edge {k}'
            items.append(TreeEdge(e[0], e[1] or None, where))
        return cls._new(
            resolve_dag(items, dag_rule, source), root_name, source)

    @classmethod
    def from_dict(cls, tree: Mapping, root_name: str = ROOT_NAME,
                  **kwargs) -> 'ClassTree':
        """Build from a nested dict ``{name: children}``, children being a
        dict, a list of names / dicts, or ``None`` / ``{}`` for a leaf."""
        if kwargs:
            raise TypeError(f'unexpected arguments {sorted(kwargs)}')
        edges: List[TreeEdge] = []

        def walk(children: Any, parent: Optional[str], where: str) -> None:
            if children is None:
                return
            if isinstance(children, Mapping):
                for name, sub in children.items():
                    edges.append(TreeEdge(name, parent, f'{where}/{name}'))
                    walk(sub, name, f'{where}/{name}')
            elif isinstance(children, (list, tuple)):
                for item in children:
                    if isinstance(item, Mapping):
                        walk(item, parent, where)
                    else:
                        edges.append(TreeEdge(item, parent, f'{where}/{item}'))
            else:
                raise TreeError(f'dict tree at {where or "/"}: children '
                                'must be a dict, a list or None, got '
                                f'{children!r}')

        walk(tree, None, '')
        return cls._new(edges, root_name, 'dict tree')

    def to_dict(self) -> Dict[str, Any]:
        """Nested ``{name: {child: {...}}}``; leaves map to ``{}``."""
        out: Dict[str, Any] = {}
        nodes: Dict[int, Dict[str, Any]] = {-1: out}
        for i, name in enumerate(self.names):  # BFS: parents come first
            nodes[i] = nodes[int(self.parents[i])].setdefault(name, {})
        return out

    @classmethod
    def from_paths(cls, lines: Iterable[str], sep: str = '/',
                   root_name: str = ROOT_NAME,
                   source: str = '<paths>') -> 'ClassTree':
        """Build from path strings ``'a/b/c'`` (one node chain each)."""
        edges: List[TreeEdge] = []
        seen: Dict[str, TreeEdge] = {}
        for lineno, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            parts = line.split(sep)
            where = f'line {lineno}'
            if any(not p.strip() for p in parts):
                raise TreeError(f'{source}, {where}: empty node name in '
                                f'path {line!r}')
            parent = None
            for part in (p.strip() for p in parts):
                old = seen.get(part)
                if old is None:
                    seen[part] = TreeEdge(part, parent, where)
                    edges.append(seen[part])
                elif old.parent != parent:
                    raise TreeError(
                        f'{source}, {where}: node {part!r} has parent '
                        f'{parent or root_name!r} here but '
                        f'{old.parent or root_name!r} at {old.where}')
                parent = part
        return cls._new(edges, root_name, source)

    def to_paths(self, sep: str = '/') -> List[str]:
        """One ``a/b/c`` line per leaf, depth first (keeps child order)."""
        bad = [n for n in self.names if sep in n]
        if bad:
            raise TreeError(f'node names {bad[:3]} contain {sep!r}; save '
                            'this tree as .json or .tsv instead')
        lines: List[str] = []
        stack = self.children(-1)[::-1]
        while stack:
            i = stack.pop()
            kids = self.children(i)
            if kids:
                stack.extend(kids[::-1])
            else:
                lines.append(sep.join(self.decode(self.path(i))))
        return lines

    @classmethod
    def from_openimages(cls,
                        data: Mapping,
                        relations: Sequence[str] = (_OI_CHILDREN, ),
                        dag_rule: Optional[str] = None,
                        source: str = '<json>') -> 'ClassTree':
        """Build from the Open Images nested hierarchy (already parsed)."""
        if not isinstance(data, Mapping) or _OI_NAME not in data:
            raise TreeError(f'{source}: the top object needs a '
                            f'{_OI_NAME!r} key (Open Images hierarchy '
                            'format)')
        edges: List[TreeEdge] = []
        stack = [(data, None, _OI_NAME)]
        while stack:
            node, parent, where = stack.pop()
            if not isinstance(node, Mapping) or _OI_NAME not in node:
                raise TreeError(f'{source}, {where}: expected an object '
                                f'with {_OI_NAME!r}, got {node!r:.80}')
            name = node[_OI_NAME]
            where = f'{where} -> {name}' if parent is not None else name
            if parent is not None:
                edges.append(
                    TreeEdge(name, parent, where, node.get(_OI_DISPLAY),
                             node.get(_OI_ID)))
            subs = []
            for rel in relations:
                subs.extend(node.get(rel) or [])
            stack.extend((s, name, where) for s in reversed(subs))
        edges = resolve_dag(edges, dag_rule, source, skip_subtrees=True)
        return cls._new(edges, data[_OI_NAME], source)

    def to_openimages(self) -> Dict[str, Any]:
        """The Open Images nested hierarchy dict (keeps display names and
        ids)."""
        nodes: Dict[int, Dict[str, Any]] = {-1: {_OI_NAME: self.root_name}}
        for i, name in enumerate(self.names):
            item: Dict[str, Any] = {_OI_NAME: name}
            if self.display_names[i] != name:
                item[_OI_DISPLAY] = self.display_names[i]
            if self.ids[i] is not None:
                item[_OI_ID] = self.ids[i]
            nodes[i] = item
            nodes[int(self.parents[i])].setdefault(_OI_CHILDREN,
                                                   []).append(item)
        return nodes[-1]

    @classmethod
    def load(cls,
             file: Union[str, os.PathLike],
             fmt: Optional[str] = None,
             dag_rule: Optional[str] = None,
             relations: Sequence[str] = (_OI_CHILDREN, )) -> 'ClassTree':
        """Read a tree file; the format follows the extension unless
        ``fmt`` (``'json'``, ``'tsv'``, ``'csv'``, ``'paths'``) is given."""
        file = os.fspath(file)
        fmt = fmt or _FORMATS.get(osp.splitext(file)[1].lower())
        if fmt not in _FORMATS.values():
            raise TreeError(f'{file}: unknown tree format; use one of '
                            f'{sorted(_FORMATS)} or pass fmt=')
        if not osp.isfile(file):
            raise FileNotFoundError(f'class tree file {file} does not exist')
        try:
            with open(file, encoding='utf-8') as f:
                if fmt == 'json':
                    try:
                        data = json.load(f)
                    except json.JSONDecodeError as e:
                        raise TreeError(f'{file}:{e.lineno}: invalid JSON: '
                                        f'{e.msg}') from None
                    return cls.from_openimages(data, relations, dag_rule,
                                               file)
                if fmt == 'paths':
                    return cls.from_paths(f, source=file)
                return cls._from_parent_list(f, fmt, dag_rule, file)
        except UnicodeDecodeError as e:
            raise TreeError(f'{file}: not UTF-8 text (byte {e.start}: '
                            f'{e.reason})') from None
        except RecursionError:
            raise TreeError(f'{file}: the JSON is nested too deeply for '
                            "Python's parser") from None

    @classmethod
    def _from_parent_list(cls, f, fmt: str, dag_rule: Optional[str],
                          source: str) -> 'ClassTree':
        reader = csv.reader(f, delimiter='\t' if fmt == 'tsv' else ',')
        edges = []
        for lineno, row in enumerate(reader, 1):
            if not row or not ''.join(row).strip() or row[0].startswith('#'):
                continue
            row = [c.strip() for c in row]
            if lineno == 1 and row[:2] == ['child', 'parent']:
                continue  # header
            if len(row) < 2 or len(row) > 4:
                raise TreeError(
                    f'{source}:{lineno}: expected child, parent[, display '
                    f'name[, id]] separated by '
                    f'{"a tab" if fmt == "tsv" else "commas"}, got {row!r}')
            display = row[2] if len(row) > 2 and row[2] else None
            node_id = row[3] if len(row) > 3 and row[3] else None
            edges.append(
                TreeEdge(row[0], row[1] or None, f'line {lineno}', display,
                         node_id))
        return cls._new(resolve_dag(edges, dag_rule, source), None, source)

    def save(self, file: Union[str, os.PathLike],
             fmt: Optional[str] = None) -> None:
        """Write the tree; :meth:`load` reads it back equal (``.txt`` keeps
        names only)."""
        file = os.fspath(file)
        fmt = fmt or _FORMATS.get(osp.splitext(file)[1].lower())
        if fmt not in _FORMATS.values():
            raise TreeError(f'{file}: unknown tree format; use one of '
                            f'{sorted(_FORMATS)} or pass fmt=')
        if osp.dirname(file):
            os.makedirs(osp.dirname(file), exist_ok=True)
        with open(file, 'w', encoding='utf-8', newline='') as f:
            if fmt == 'json':
                json.dump(self.to_openimages(), f, indent=1,
                          ensure_ascii=False)
                f.write('\n')
            elif fmt == 'paths':
                f.write('\n'.join(self.to_paths()) + '\n')
            else:
                writer = csv.writer(
                    f, delimiter='\t' if fmt == 'tsv' else ',',
                    lineterminator='\n')
                for i, name in enumerate(self.names):
                    p = int(self.parents[i])
                    row = [name, self.root_name if p < 0 else self.names[p]]
                    disp, node_id = self.display_names[i], self.ids[i]
                    if disp != name or node_id is not None:
                        row.append(disp)
                    if node_id is not None:
                        row.append(node_id)
                    writer.writerow(row)
