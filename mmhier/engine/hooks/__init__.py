# Copyright (c) mmhier contributors. All rights reserved.
from .alternating_freeze_hook import AlternatingFreezeHook

__all__ = ['AlternatingFreezeHook']
