# Copyright (c) mmhier contributors. All rights reserved.
from . import backbones, classifiers, heads, necks, utils  # noqa: F401
