# Copyright (c) mmhier contributors. All rights reserved.
"""mmhier: hierarchical image classification for OpenMMLab.

Importing this package registers every mmhier component in mmpretrain's
registries (MODELS, DATASETS, METRICS, HOOKS, TRANSFORMS, ...) and applies the
small compatibility layer for the pinned stack (see ``mmhier.engine``).
"""
import warnings

# mmcv-lite ships no compiled ops, so importing mmcv.cnn (which mmpretrain
# does) warns that MultiScaleDeformableAttention is missing. No mmhier
# component uses it; silence exactly that message, nothing else.
warnings.filterwarnings(
    'ignore',
    message='Fail to import ``MultiScaleDeformableAttention``',
    category=UserWarning)

from .utils.version_check import check_versions  # noqa: E402
from .version import __version__, version_info  # noqa: E402

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
