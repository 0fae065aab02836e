# Copyright (c) mmhier contributors. All rights reserved.
from .op_count import OpCount, count_ops
from .version_check import check_versions

__all__ = ['check_versions', 'count_ops', 'OpCount']
