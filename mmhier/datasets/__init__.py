# Copyright (c) mmhier contributors. All rights reserved.
from . import transforms  # noqa: F401
from .hier_base import HierDatasetMixin, InMemoryHierMixin
from .hier_cifar100 import HierCIFAR100
from .hier_coarse_label_dataset import HierCoarseLabelDataset
from .hier_dataset import HierDataset
from .hier_fashion_mnist import HierFashionMNIST
from .image_errors import ImageReadError, TooManyBadImagesError
from .label_parsing import AnnotationError, PathEncoder
from .transforms import PackHierInputs

__all__ = [
    'HierDataset', 'HierFashionMNIST', 'HierCIFAR100', 'PackHierInputs',
    'HierCoarseLabelDataset',
    'AnnotationError', 'PathEncoder', 'HierDatasetMixin',
    'InMemoryHierMixin', 'ImageReadError', 'TooManyBadImagesError'
]
