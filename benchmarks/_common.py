# Copyright (c) mmhier contributors. All rights reserved.
"""Helpers shared by the benchmark scripts: machine facts, statistics and
writing a result table as JSON and markdown.

Every benchmark writes ``<out>/<name>.json`` (the rows, the columns, the
command line, the machine and the date) and ``<out>/<name>.md`` (the same
table in markdown with a header naming the command, the machine and the
date), and prints the markdown table.
"""
import datetime
import json
import os
import os.path as osp
import platform
import shlex
import statistics
import sys
from typing import Any, Dict, List, Optional, Sequence

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def machine_info(device: str = 'cpu') -> Dict[str, Any]:
    """Facts about the machine a benchmark ran on."""
    import torch
    info = dict(
        python=platform.python_version(),
        torch=torch.__version__,
        platform=platform.platform(),
        processor=platform.processor() or platform.machine(),
        cpu_count=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        device=device)
    try:
        info['load_average'] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    if device.startswith('cuda') and torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


def machine_line(info: Dict[str, Any]) -> str:
    """One line describing the machine, for the markdown header."""
    text = (f'{info["cpu_count"]} CPU cores ({info["processor"]}), '
            f'{info["torch_threads"]} torch threads, torch {info["torch"]}, '
            f'Python {info["python"]}')
    if 'gpu' in info:
        text = f'{info["gpu"]}; ' + text
    if 'load_average' in info:
        text += f'; load average at start {info["load_average"]}'
    return text


def command_line(script: Optional[str] = None,
                 argv: Optional[Sequence[str]] = None) -> str:
    """The command that ran this benchmark, as a user would type it.

    Args:
        script: Path of the benchmark script; defaults to ``sys.argv[0]``.
        argv: Its arguments; default ``sys.argv[1:]`` (pass them when the
            script's ``main`` is called from another program, e.g. tests).
    """
    script = osp.relpath(osp.abspath(script or sys.argv[0]), REPO_ROOT)
    argv = sys.argv[1:] if argv is None else argv
    return ' '.join(['python', shlex.quote(script)] +
                    [shlex.quote(a) for a in argv])


def today() -> str:
    return datetime.date.today().isoformat()


def median_spread(values: Sequence[float]) -> Dict[str, float]:
    """Median, min, max and interquartile range of ``values``."""
    values = sorted(float(v) for v in values)
    if not values:
        raise ValueError('median_spread needs at least one value, got []')
    if len(values) >= 2:
        q1, _, q3 = statistics.quantiles(values, n=4, method='inclusive')
    else:
        q1 = q3 = values[0]
    return dict(
        median=statistics.median(values),
        min=values[0],
        max=values[-1],
        iqr=q3 - q1,
        n=len(values))


def mean_std(values: Sequence[float]) -> Dict[str, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError('mean_std needs at least one value, got []')
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return dict(mean=statistics.fmean(values), std=std, n=len(values))


def fmt(value: Any, digits: int = 3) -> str:
    """Format a table cell: floats to ``digits`` significant decimals."""
    if isinstance(value, float):
        return f'{value:.{digits}f}'
    if value is None:
        return '-'
    return str(value)


def markdown_table(columns: Sequence[str],
                   rows: List[Dict[str, Any]],
                   digits: int = 3) -> str:
    """``rows`` (dicts keyed by ``columns``) as a markdown table."""
    lines = [
        '| ' + ' | '.join(columns) + ' |',
        '|' + '|'.join(['---'] * len(columns)) + '|'
    ]
    for row in rows:
        lines.append('| ' +
                     ' | '.join(fmt(row.get(c), digits)
                                for c in columns) + ' |')
    return '\n'.join(lines)


def write_report(out_dir: str,
                 name: str,
                 title: str,
                 tables: Dict[str, Dict[str, Any]],
                 info: Dict[str, Any],
                 notes: Optional[List[str]] = None,
                 extra: Optional[Dict[str, Any]] = None,
                 command: Optional[str] = None) -> str:
    """Write ``<out_dir>/<name>.json`` and ``.md``, print the markdown.

    Args:
        out_dir: Folder for the two files (created).
        name: File stem.
        title: Heading of the markdown.
        tables: ``{caption: dict(columns=[...], rows=[{...}], digits=3)}``.
        info: :func:`machine_info` of the run.
        notes: Lines printed under the header.
        extra: More JSON content (settings, raw timings).
        command: The command line; defaults to :func:`command_line`.

    Returns:
        str: The markdown text.
    """
    os.makedirs(out_dir, exist_ok=True)
    command = command or command_line()
    header = [
        f'## {title}', '', f'- command: `{command}`',
        f'- machine: {machine_line(info)}', f'- date: {today()}'
    ]
    for note in notes or []:
        header.append(f'- {note}')
    parts = ['\n'.join(header)]
    for caption, table in tables.items():
        parts.append(f'**{caption}**\n\n' + markdown_table(
            table['columns'], table['rows'], table.get('digits', 3)))
    text = '\n\n'.join(parts) + '\n'
    with open(osp.join(out_dir, f'{name}.md'), 'w') as f:
        f.write(text)
    payload = dict(
        title=title,
        command=command,
        date=today(),
        machine=info,
        notes=notes or [],
        tables=tables)
    payload.update(extra or {})
    with open(osp.join(out_dir, f'{name}.json'), 'w') as f:
        json.dump(payload, f, indent=1, default=str)
    print(text, flush=True)
    return text
