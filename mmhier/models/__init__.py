# Copyright (c) mmhier contributors. All rights reserved.
from . import (backbones, classifiers, heads, losses, necks,  # noqa: F401
               utils)
