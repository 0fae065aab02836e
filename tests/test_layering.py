# Copyright (c) mmhier contributors. All rights reserved.
"""Dependencies flow down: no mmhier module imports from a higher layer.

The layers follow the data flow of STYLE.md (dataset -> transforms -> data
preprocessor -> backbone -> neck -> head -> DataSample -> metric), with the
runtime and user-facing pieces on top, lowest first:

0. ``mmhier.utils``, ``mmhier.version``: stack helpers, know nothing of
   the hierarchy.
1. ``mmhier.structures``: the ClassTree and label paths, the one source of
   truth every other piece asks.
2. ``mmhier.datasets`` (with ``datasets.transforms``): read and pack paths.
3. ``mmhier.models``: preprocessor, backbones, necks, heads, losses.
4. ``mmhier.evaluation``: metrics and their maths over predicted samples
   (it reads what models write, so it sits above them; maths a head needs
   belongs in ``structures`` or ``models.utils``, not here).
5. ``mmhier.engine``: hooks and the compat layer; hooks may use the
   threshold files of ``evaluation.functional``.
6. ``mmhier.visualization``: pictures of trees and predictions.
7. ``mmhier.apis``: inference for users, may use everything below.

Imports inside one layer are free. Every import counts, including those
inside functions (lazy imports are still dependencies) and relative imports,
which are resolved to absolute names. ``mmhier/__init__.py`` imports every
layer to register them and is the one module outside the rule.
"""
import ast
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

LAYERS = [
    ('utils', 'version'),
    ('structures', ),
    ('datasets', ),
    ('models', ),
    ('evaluation', ),
    ('engine', ),
    ('visualization', ),
    ('apis', ),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
# Found from this file, not by importing mmhier (the test reads sources).
PACKAGE_ROOT = Path(__file__).resolve().parents[1] / 'mmhier'


def module_name(path: Path, root: Path = PACKAGE_ROOT) -> str:
    """The dotted name of the module at ``path`` inside the package at
    ``root``."""
    parts = list(path.relative_to(root.parent).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def imported_modules(path: Path,
                     root: Path = PACKAGE_ROOT) -> Iterator[Tuple[int, str]]:
    """Yield ``(line, absolute module name)`` of every import in ``path``.

    Relative imports are resolved against the module's package; for
    ``from pkg import name`` the module is ``pkg`` (``name`` may be a
    submodule, but it lies in the same layer as ``pkg``), except for
    ``from mmhier import layer``, which yields ``mmhier.layer``.
    """
    name = module_name(path, root)
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[:len(base) - node.level + 1]
                module = [node.module] if node.module else []
                target = '.'.join(base + module)
            else:
                target = node.module or ''
            if target == 'mmhier':
                # ``from mmhier import apis``: the names are the layers.
                for alias in node.names:
                    yield node.lineno, f'{target}.{alias.name}'
            else:
                yield node.lineno, target


def layer_of(module: str) -> Optional[str]:
    """The layer (top-level subpackage of mmhier) of ``module``, or None for
    the package root and modules outside mmhier."""
    parts = module.split('.')
    if parts[0] != 'mmhier' or len(parts) < 2:
        return None
    return parts[1]


def upward_imports(root: Path = PACKAGE_ROOT) -> List[str]:
    """Messages naming every import of a higher layer under ``root``."""
    errors = []
    for path in sorted(root.rglob('*.py')):
        module = module_name(path, root)
        own = layer_of(module)
        if own is None:
            continue
        assert own in RANK, f'{module}: layer {own!r} is not in LAYERS'
        for line, target in imported_modules(path, root):
            other = layer_of(target)
            if other is None or other == own:
                continue
            assert other in RANK, (
                f'{module}:{line} imports {target}, whose layer {other!r} is '
                'not in LAYERS')
            if RANK[other] > RANK[own]:
                errors.append(
                    f'{module} (line {line}) imports {target}: layer '
                    f'{other!r} is above {own!r}')
    return errors


def test_every_layer_is_listed():
    found = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE_ROOT.iterdir()
        if (p.is_dir() and (p / '__init__.py').exists()) or (
            p.suffix == '.py' and p.name != '__init__.py')
    }
    assert found == set(RANK), f'packages {found} but LAYERS {set(RANK)}'


def test_relative_imports_resolve(tmp_path):
    heads = tmp_path / 'mmhier' / 'models' / 'heads'
    heads.mkdir(parents=True)
    (heads / '__init__.py').write_text('from . import head\n')
    (heads / 'head.py').write_text(
        'from ..utils import x\nfrom .base import y\nfrom ... import apis\n')
    root = tmp_path / 'mmhier'
    assert list(imported_modules(heads / 'head.py', root)) == [
        (1, 'mmhier.models.utils'), (2, 'mmhier.models.heads.base'),
        (3, 'mmhier.apis')
    ]
    assert list(imported_modules(heads / '__init__.py', root)) == [
        (1, 'mmhier.models.heads')
    ]


def test_upward_import_is_reported(tmp_path):
    # A tiny package whose structures module reaches up to apis inside a
    # function, as a lazy import would.
    pkg = tmp_path / 'mmhier'
    (pkg / 'structures').mkdir(parents=True)
    (pkg / '__init__.py').write_text('')
    (pkg / 'structures' / '__init__.py').write_text('')
    (pkg / 'structures' / 'bad.py').write_text(
        'import torch\n\n\ndef f():\n    from ..apis import x\n    return x\n')
    errors = upward_imports(pkg)
    assert errors == [
        "mmhier.structures.bad (line 5) imports mmhier.apis: layer 'apis' "
        "is above 'structures'"
    ]


def test_dependencies_flow_down():
    errors = upward_imports()
    assert not errors, 'imports from a higher layer:\n' + '\n'.join(errors)
