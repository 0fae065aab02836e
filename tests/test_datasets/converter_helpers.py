# Copyright (c) mmhier contributors. All rights reserved.
"""Loading and running tools/dataset_converters for the converter tests
(``test_openimages_converter.py``, ``test_dataset_converters.py``); not a
test module."""
import contextlib
import importlib.util
import io
import os.path as osp

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
TOOLS = osp.join(REPO, 'tools', 'dataset_converters')


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(TOOLS, name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def quiet(fn, *args, **kwargs):
    """Run a converter without its progress bars in the test log."""
    with contextlib.redirect_stdout(io.StringIO()) as out:
        result = fn(*args, **kwargs)
    return result, out.getvalue()
