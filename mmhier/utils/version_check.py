# Copyright (c) mmhier contributors. All rights reserved.
"""Check, at import time, that the OpenMMLab stack is one mmhier supports."""
from importlib import metadata
from typing import Dict, Tuple

# package -> (lowest supported, first unsupported). Bounds are the versions
# mmhier is tested with; see requirements/runtime.txt for the exact pins.
SUPPORTED: Dict[str, Tuple[str, str]] = {
    'mmengine': ('0.10.0', '0.11.0'),
    'mmcv': ('2.0.0', '2.3.0'),
    'mmpretrain': ('1.2.0', '1.3.0'),
    'torch': ('2.0.0', '3.0.0'),
}

# Distribution names that provide a module (mmcv-lite provides ``mmcv``).
_DISTRIBUTIONS = {'mmcv': ('mmcv', 'mmcv-lite')}


def _as_tuple(version: str) -> Tuple[int, ...]:
    """``'2.14.1+cu130'`` -> ``(2, 14, 1)``; non-numeric parts stop parsing."""
    out = []
    for part in version.split('+')[0].split('.'):
        digits = ''
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


def installed_version(module: str) -> str:
    """Version of the distribution that provides ``module``, or ''."""
    for dist in _DISTRIBUTIONS.get(module, (module, )):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return ''


def check_versions(supported: Dict[str, Tuple[str, str]] = SUPPORTED) -> None:
    """Raise an ``ImportError`` naming every package outside its range.

    Args:
        supported: ``{module: (min_inclusive, max_exclusive)}``.

    Raises:
        ImportError: one line per missing or unsupported package, with the
            range mmhier needs and the command that installs the pinned stack.
    """
    problems = []
    for module, (low, high) in supported.items():
        found = installed_version(module)
        if not found:
            problems.append(f'{module} is not installed '
                            f'(mmhier needs >={low},<{high})')
        elif not _as_tuple(low) <= _as_tuple(found) < _as_tuple(high):
            problems.append(f'{module}=={found} is installed, but mmhier '
                            f'needs >={low},<{high}')
    if problems:
        raise ImportError(
            'mmhier cannot be imported with this environment:\n  - ' +
            '\n  - '.join(problems) +
            '\nInstall the pinned stack with '
            '`pip install -r requirements/runtime.txt` (or `make install`).')
