# Copyright (c) mmhier contributors. All rights reserved.
from .cbam_resnet import CBAMResNet

__all__ = ['CBAMResNet']
