# Copyright (c) mmhier contributors. All rights reserved.
"""The tree and score rows shared by the HierMultiLabelMetric tests
(``test_hier_multi_label_metric.py``, ``test_hier_multi_label_authors.py``);
not a test module."""

# A=0 B=1 C=2 D=3 E=4 F=5 G=6 H=7 I=8 (H, I under C).
VARIABLE = {'A': {'C': ['H', 'I'], 'D': None}, 'B': ['E', 'F', 'G']}
NAMES = 'ABCDEFGHI'


def scores(**kw):
    return [kw.get(n, 0.0) for n in NAMES]
