# Copyright (c) mmhier contributors. All rights reserved.
"""mmhier: hierarchical image classification for OpenMMLab.

Importing this package registers every mmhier component in mmpretrain's
registries (MODELS, DATASETS, METRICS, HOOKS, TRANSFORMS, ...) and applies the
small compatibility layer for the pinned stack (see ``mmhier.engine``).
"""
from .utils.version_check import check_versions
from .version import __version__, version_info

check_versions()

# The order matters only in that ``engine`` patches the stack before any
# component that might load a checkpoint is imported.
from . import engine  # noqa: E402,F401
from . import structures  # noqa: E402,F401
from . import datasets  # noqa: E402,F401
from . import models  # noqa: E402,F401
from . import evaluation  # noqa: E402,F401
from . import apis  # noqa: E402,F401
from . import visualization  # noqa: E402,F401

__all__ = ['__version__', 'version_info']
