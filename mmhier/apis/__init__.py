# Copyright (c) mmhier contributors. All rights reserved.
from .export_wrapper import HierExportWrapper, load_export_wrapper
from .hier_inferencer import IMG_EXTENSIONS, HierInferencer
from .inference import inference_hier_model
from .predictions import format_prediction, path_entries, sample_topk_paths

__all__ = [
    'HierInferencer', 'inference_hier_model', 'IMG_EXTENSIONS',
    'format_prediction', 'path_entries', 'sample_topk_paths',
    'HierExportWrapper', 'load_export_wrapper'
]
