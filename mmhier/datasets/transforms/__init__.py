# Copyright (c) mmhier contributors. All rights reserved.
from .pack_hier_inputs import PackHierInputs

__all__ = ['PackHierInputs']
