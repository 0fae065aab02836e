# Copyright (c) mmhier contributors. All rights reserved.
"""Padding values of label paths and the default root name.

Kept apart from :class:`ClassTree` so that every module of the package can
use them without importing the tree.
"""

#: Padding of a path after its last node: the path stops here, the object IS
#: the previous node (an inner node in a general tree).
PATH_END = -1
#: Padding of a path whose lower levels are not annotated: we only know the
#: coarse part. Losses and metrics ignore these steps.
PATH_UNKNOWN = -2

ROOT_NAME = '__root__'
