# Copyright (c) mmhier contributors. All rights reserved.
"""Super-classes from a confusion probability matrix (HierNet, section 4).

Tempfli and Sandor build the class tree of HierNet from a trained flat
model: the confusion probability matrix (CPM) of its predictions on
validation data gives a proximity between classes, and an agglomerative
procedure merges the closest groups while they stay close enough
(``p_min``) and small enough (``g_max``). Applied again inside each group,
it gives deeper trees. Pure numpy; no torch.
"""
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

SINGLETONS = ('group', 'leaf')


def confusion_probability_matrix(
        scores: Any,
        labels: Any,
        num_classes: Optional[int] = None) -> np.ndarray:
    """The CPM: ``CPM[i, j]`` = mean predicted probability of class j over
    the samples of true class i (section 4 of the HierNet paper).

    Args:
        scores: ``(M, C)`` predicted probabilities (softmax outputs).
        labels: ``(M,)`` true class indices.
        num_classes: C; defaults to ``scores.shape[1]``.

    Returns:
        np.ndarray: ``(C, C)`` float64. Rows of classes without samples are
        zero.

    Raises:
        ValueError: on mismatched shapes or labels outside ``0..C-1``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).reshape(-1)
    if scores.ndim != 2:
        raise ValueError(f'scores must be (M, C), got shape {scores.shape}')
    c = scores.shape[1] if num_classes is None else int(num_classes)
    if scores.shape[1] != c:
        raise ValueError(f'scores have {scores.shape[1]} columns but '
                         f'num_classes={c}')
    if len(labels) != len(scores):
        raise ValueError(f'{len(labels)} labels for {len(scores)} rows of '
                         'scores')
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f'labels must be integers, got {labels.dtype}')
    bad = (labels < 0) | (labels >= c)
    if bad.any():
        raise ValueError(f'label {labels[bad][0]} is outside 0..{c - 1}')
    sums = np.zeros((c, c), dtype=np.float64)
    np.add.at(sums, labels, scores)
    counts = np.bincount(labels, minlength=c)
    return sums / np.maximum(counts, 1)[:, None]


def group_classes(cpm: Any,
                  p_min: float,
                  g_max: int,
                  balance: Union[bool, float] = 0.0) -> List[List[int]]:
    """Agglomerate classes into groups (section 4 of the HierNet paper).

    The proximity of classes a, b is ``CPM[a, b] + CPM[b, a]``; that of two
    groups the mean proximity over all pairs across them. Starting from one
    group per class, each step merges, among the pairs of groups whose
    proximity exceeds ``p_min`` (strictly) and whose merged size is at most
    ``g_max``, the pair with the highest proximity; it stops when no pair
    qualifies.

    ``balance`` (not in the paper, which notes very unbalanced groups) picks
    the pair by ``proximity / (merged size) ** balance`` instead, so small
    groups merge first; the ``p_min`` and ``g_max`` tests are unchanged.
    ``balance=True`` means 1. Ties go to the pair with the smallest group
    indices (groups are indexed by their first class).

    Args:
        cpm: ``(C, C)`` confusion probability matrix.
        p_min: Minimum proximity of the groups merged.
        g_max: Maximum size of a group.
        balance: Size penalty exponent, ``>= 0``. Defaults to 0 (the paper).

    Returns:
        list[list[int]]: the groups, each sorted, ordered by their smallest
        class.
    """
    cpm = np.asarray(cpm, dtype=np.float64)
    if cpm.ndim != 2 or cpm.shape[0] != cpm.shape[1]:
        raise ValueError(f'cpm must be square, got shape {cpm.shape}')
    if int(g_max) != g_max or g_max < 1:
        raise ValueError(f'g_max must be a positive int, got {g_max!r}')
    balance = float(balance)
    if balance < 0:
        raise ValueError(f'balance must be >= 0, got {balance!r}')
    c = len(cpm)
    # sums[g, h]: sum of class proximities over the pairs across g and h.
    sums = cpm + cpm.T
    size = np.ones(c, dtype=np.float64)
    alive = np.ones(c, dtype=bool)
    members: List[List[int]] = [[i] for i in range(c)]
    upper = np.triu(np.ones((c, c), dtype=bool), k=1)
    while True:
        merged = size[:, None] + size[None, :]
        proximity = sums / (size[:, None] * size[None, :])
        ok = (
            upper & alive[:, None] & alive[None, :] & (merged <= g_max)
            & (proximity > p_min))
        if not ok.any():
            break
        key = np.where(ok, proximity / merged**balance, -np.inf)
        a, b = np.unravel_index(np.argmax(key), key.shape)
        # Sums over pairs add up when b joins a (average linkage).
        sums[a, :] += sums[b, :]
        sums[:, a] += sums[:, b]
        size[a] += size[b]
        alive[b] = False
        members[a] += members[b]
        members[b] = []
    return sorted((sorted(m) for m in members if m), key=lambda m: m[0])


def _per_level(value: Any, name: str, levels: int) -> List[Any]:
    if isinstance(value, (list, tuple)):
        if len(value) != levels:
            raise ValueError(f'{name}={value!r} gives {len(value)} levels, '
                             f'expected {levels}')
        return list(value)
    return [value] * levels


def build_group_tree(cpm: Any,
                     names: Sequence[str],
                     p_min: Union[float, Sequence[float]],
                     g_max: Union[int, Sequence[int]],
                     balance: Union[bool, float] = 0.0,
                     singletons: str = 'group',
                     group_prefix: str = 'group') -> Dict[str, Any]:
    """A class tree (nested dict for :meth:`ClassTree.from_dict`) from a
    CPM: groups of classes, and sub-groups inside them when ``p_min`` is a
    list (one value per level, coarse first; "applying it recursively",
    section 4).

    Args:
        cpm: ``(C, C)`` confusion probability matrix.
        names: The C class names, in CPM order.
        p_min: Minimum proximity, or one per level.
        g_max: Maximum group size, or one per level.
        balance: See :func:`group_classes`.
        singletons: ``'group'``: a group of one class is still a node (every
            class at the same depth); ``'leaf'``: the class hangs directly
            under the parent instead (a variable-depth tree).
        group_prefix: Group names are ``{prefix}{i}`` (``{parent}_{j}``
            below the first level).

    Returns:
        dict: ``{group: {subgroup or class: ...}}``, classes map to ``{}``.
    """
    cpm = np.asarray(cpm, dtype=np.float64)
    names = list(names)
    if len(names) != len(cpm):
        raise ValueError(f'{len(names)} class names for a {cpm.shape} CPM')
    if singletons not in SINGLETONS:
        raise ValueError(f'singletons must be one of {list(SINGLETONS)}, '
                         f'got {singletons!r}')
    levels = len(p_min) if isinstance(p_min, (list, tuple)) else 1
    p_mins = _per_level(p_min, 'p_min', levels)
    g_maxes = _per_level(g_max, 'g_max', levels)
    used = set(names)

    def grow(classes: List[int], level: int, prefix: str) -> Dict[str, Any]:
        if level == levels:
            return {names[i]: {} for i in classes}
        sub = cpm[np.ix_(classes, classes)]
        groups = group_classes(sub, p_mins[level], g_maxes[level], balance)
        if singletons == 'leaf' and len(groups) == 1 and level:
            return grow(classes, level + 1, prefix)  # no split: no node
        out: Dict[str, Any] = {}
        for j, group in enumerate(groups, start=1):
            members = [classes[i] for i in group]
            if singletons == 'leaf' and len(members) == 1:
                out[names[members[0]]] = {}
                continue
            name = f'{prefix}{j}' if level == 0 else f'{prefix}_{j}'
            if name in used:
                raise ValueError(f'group name {name!r} is also a class '
                                 'name; choose another group_prefix')
            used.add(name)
            out[name] = grow(members, level + 1, name)
        return out

    return grow(list(range(len(names))), 0, group_prefix)


def describe_groups(tree: Dict[str, Any], indent: str = '') -> List[str]:
    """Lines ``name (n classes): member, ...`` for each group of a tree
    from :func:`build_group_tree` (a class is a key mapping to ``{}``)."""
    lines = []
    for name, sub in tree.items():
        if not sub:
            continue
        leaves = tree_leaves(sub)
        shown = ', '.join(leaves[:8]) + (', ...' if len(leaves) > 8 else '')
        lines.append(f'{indent}{name} ({len(leaves)} classes): {shown}')
        lines.extend(describe_groups(sub, indent + '  '))
    return lines


def tree_leaves(tree: Dict[str, Any]) -> List[str]:
    """The classes (keys mapping to ``{}``) of a nested tree, in order."""
    out: List[str] = []
    for name, sub in tree.items():
        out.extend(tree_leaves(sub) if sub else [name])
    return out
