# Copyright (c) mmhier contributors. All rights reserved.
import os.path as osp

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


setup(
    name='mmhier',
    version=get_version(),
    description='Hierarchical image classification for OpenMMLab '
    '(DHNN CNN-RNN / CNN-S2S, CNN-RNN generator, HierNet)',
    long_description=readme(),
    long_description_content_type='text/markdown',
    keywords='computer vision, hierarchical classification, mmpretrain',
    packages=find_packages(exclude=('configs', 'tools', 'tests',
                                    'benchmarks', 'docs')),
    include_package_data=True,
    package_data={'mmhier': ['datasets/trees/*', 'datasets/trees/**/*']},
    python_requires='>=3.8',
    license='Apache License 2.0',
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require={
        'tests': parse_requirements('requirements/tests.txt'),
        'optional': parse_requirements('requirements/optional.txt'),
    },
    zip_safe=False)
