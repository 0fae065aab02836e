# Copyright (c) mmhier contributors. All rights reserved.
import os
import os.path as osp
import shutil
import sys
import warnings

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def readme() -> str:
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


def get_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'mmhier', 'version.py'), encoding='utf-8') as f:
        exec(compile(f.read(), 'mmhier/version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname: str) -> list:
    """Read one requirements file, following ``-r`` includes."""
    reqs = []
    with open(osp.join(HERE, fname), encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                reqs += parse_requirements(
                    osp.join(osp.dirname(fname), line[3:].strip()))
            else:
                reqs.append(line)
    return reqs


def add_mim_extension() -> None:
    """Put configs, tools and model-index.yml under ``mmhier/.mim``.

    This is where OpenMMLab's ``mim`` looks for them (``mim train mmhier
    CFG``, ``mim test``, ``mim run mmhier TOOL``), as in mmpretrain's
    setup.py: symlinks for an editable install, copies for a wheel or an
    sdist. Unlike mmpretrain's, it also knows the ``editable_wheel`` command
    of PEP 660 editable installs (pip >= 21.3 with setuptools >= 64), whose
    ``sys.argv`` no longer holds ``develop``.
    """
    if {'develop', 'editable_wheel'} & set(sys.argv):
        mode = 'copy' if os.name == 'nt' else 'symlink'
    elif {'sdist', 'bdist_wheel', 'install', 'build'} & set(sys.argv):
        mode = 'copy'
    else:
        return

    mim_path = osp.join(HERE, 'mmhier', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in ('configs', 'tools', 'model-index.yml'):
        src_path = osp.join(HERE, name)
        tar_path = osp.join(mim_path, name)
        if not osp.exists(src_path):
            continue
        if osp.isfile(tar_path) or osp.islink(tar_path):
            os.remove(tar_path)
        elif osp.isdir(tar_path):
            shutil.rmtree(tar_path)
        if mode == 'symlink':
            os.symlink(osp.relpath(src_path, mim_path), tar_path)
        elif osp.isfile(src_path):
            shutil.copyfile(src_path, tar_path)
        elif osp.isdir(src_path):
            shutil.copytree(
                src_path,
                tar_path,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            warnings.warn(f'Cannot copy {src_path} into {mim_path}.')


add_mim_extension()

setup(
    name='mmhier',
    version=get_version(),
    description='Hierarchical image classification for OpenMMLab '
    '(DHNN CNN-RNN / CNN-S2S, CNN-RNN generator, HierNet)',
    long_description=readme(),
    long_description_content_type='text/markdown',
    keywords='computer vision, hierarchical classification, mmpretrain',
    packages=find_packages(
        exclude=('configs', 'tools', 'tests', 'benchmarks', 'docs')),
    include_package_data=True,
    package_data={
        'mmhier': [
            'datasets/trees/*', 'datasets/trees/**/*', '.mim/model-index.yml',
            '.mim/configs/**/*', '.mim/tools/**/*'
        ]
    },
    python_requires='>=3.8',
    license='Apache License 2.0',
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require={
        'tests': parse_requirements('requirements/tests.txt'),
        'optional': parse_requirements('requirements/optional.txt'),
    },
    zip_safe=False)
