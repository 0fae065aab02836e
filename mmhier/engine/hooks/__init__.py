# Copyright (c) mmhier contributors. All rights reserved.
from .alternating_freeze_hook import AlternatingFreezeHook
from .hier_bad_image_hook import HierBadImageHook
from .hier_epoch_seed_hook import HierEpochSeedHook
from .hier_threshold_hook import HierThresholdHook
from .hier_tree_check_hook import HierTreeCheckHook

__all__ = [
    'AlternatingFreezeHook', 'HierBadImageHook', 'HierEpochSeedHook',
    'HierThresholdHook', 'HierTreeCheckHook'
]
