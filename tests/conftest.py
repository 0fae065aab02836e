# Copyright (c) mmhier contributors. All rights reserved.
"""Test-wide set-up: the checkout itself provides ``mmhier``.

Putting the repo root first on ``sys.path`` makes ``import mmhier`` (and the
tools) pick this checkout whether pytest is started as ``python -m pytest``
(which adds the working directory) or as ``pytest``, installed or not.
"""
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
