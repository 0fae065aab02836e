# Copyright (c) mmhier contributors. All rights reserved.
"""Write the configs of the DHNN paper's tables and their README rows.

The families are regular, so they are generated rather than hand-written:

- Table 3 (Open Images, multi-label, CNN-S2S): 4 backbones x {linear, conv,
  pool (p = 256, h = 512), pool-large (p = 2048, h = 1024)} x {plain,
  alternating}, plus the flat baseline of each backbone;
- Tables 1 and 2 (the paper's proprietary single-label data; here your own
  data in the same layout): VGG-16 and ResNet-50 x {RNN, RNN-Alt,
  RNN-Alt-Resi, S2S, S2S-Alt}, plus the flat baselines.

Each row gives a config named after mmpretrain's convention
(``{model}_{backbone}_{NxB}_{data}.py``) and a short alias named after the
paper's method (``res50_s2s_pool_oi.py`` for Res-S2S-Pool), and a line of
the results tables in ``README.md`` (between the ``generated`` markers)
with the paper's number beside it.

Usage (from the repository root)::

    python configs/hier/_generate_configs.py          # write the files
    python configs/hier/_generate_configs.py --check  # list stale files

``tests/test_configs/test_configs.py`` runs the check, so an edit made here
but not written out (or a generated file edited by hand) fails the tests.
"""
import argparse
import os.path as osp
import re
import sys
from typing import Dict, List, Tuple

HERE = osp.dirname(osp.abspath(__file__))
README = osp.join(HERE, 'README.md')
NXB = '1xb32'  # the paper: batch 32 on one GPU

# backbone: (file part, alias part, paper name in S2S rows, flat row name)
BACKBONES = {
    'vgg16': ('vgg16', 'VGG', 'VGG-16'),
    'resnet50': ('res50', 'Res', 'Res-50'),
    'seresnet50': ('seres50', 'SE-Res', 'SE-Res-50'),
    'cbam-resnet50': ('cbamres50', 'CBAM-Res', 'CBAM-Res-50'),
}

# Table 3 of the DHNN paper: mean test F1 (sd) over 3 runs, in percent,
# (path F1, sd, node F1, sd). Keys: (backbone, variant); variant 'flat' is
# the CNN alone.
TABLE3 = {
    ('vgg16', 'flat'): (68.62, 0.09, 72.29, 0.09),
    ('vgg16', 'linear'): (71.49, 0.10, 74.84, 0.12),
    ('vgg16', 'alt-linear'): (70.76, 0.06, 73.97, 0.15),
    ('vgg16', 'conv'): (68.61, 0.41, 71.62, 0.51),
    ('vgg16', 'alt-conv'): (70.70, 0.14, 73.95, 0.06),
    ('vgg16', 'pool'): (71.39, 0.16, 74.76, 0.18),
    ('vgg16', 'alt-pool'): (71.49, 0.10, 74.84, 0.07),
    ('vgg16', 'pool-large'): (71.93, 0.09, 75.29, 0.07),
    ('vgg16', 'alt-pool-large'): (71.26, 0.13, 74.58, 0.17),
    ('resnet50', 'flat'): (71.15, 0.04, 74.47, 0.07),
    ('resnet50', 'linear'): (72.14, 0.14, 75.46, 0.16),
    ('resnet50', 'alt-linear'): (70.78, 0.09, 73.80, 0.14),
    ('resnet50', 'conv'): (70.42, 0.39, 73.55, 0.44),
    ('resnet50', 'alt-conv'): (70.75, 0.15, 73.98, 0.18),
    ('resnet50', 'pool'): (71.98, 0.06, 75.40, 0.07),
    ('resnet50', 'alt-pool'): (71.70, 0.06, 74.97, 0.09),
    ('resnet50', 'pool-large'): (72.05, 0.06, 75.43, 0.03),
    ('resnet50', 'alt-pool-large'): (71.66, 0.04, 74.89, 0.05),
    ('cbam-resnet50', 'flat'): (71.17, 0.09, 74.42, 0.04),
    ('cbam-resnet50', 'linear'): (71.71, 0.19, 74.98, 0.19),
    ('cbam-resnet50', 'alt-linear'): (66.44, 0.43, 68.84, 0.53),
    ('cbam-resnet50', 'conv'): (70.24, 0.07, 73.43, 0.05),
    ('cbam-resnet50', 'alt-conv'): (72.88, 0.09, 69.82, 0.07),
    ('cbam-resnet50', 'pool'): (71.53, 0.12, 74.82, 0.10),
    ('cbam-resnet50', 'alt-pool'): (71.29, 0.18, 74.55, 0.11),
    ('cbam-resnet50', 'pool-large'): (71.57, 0.07, 74.89, 0.07),
    ('cbam-resnet50', 'alt-pool-large'): (71.32, 0.05, 74.55, 0.01),
    ('seresnet50', 'flat'): (71.22, 0.10, 74.49, 0.08),
    ('seresnet50', 'linear'): (72.05, 0.04, 75.33, 0.08),
    ('seresnet50', 'alt-linear'): (69.52, 0.11, 72.45, 0.14),
    ('seresnet50', 'conv'): (70.49, 0.15, 73.65, 0.14),
    ('seresnet50', 'alt-conv'): (70.35, 0.09, 73.51, 0.06),
    ('seresnet50', 'pool'): (71.79, 0.15, 75.12, 0.16),
    ('seresnet50', 'alt-pool'): (71.42, 0.05, 74.73, 0.04),
    ('seresnet50', 'pool-large'): (71.75, 0.09, 75.07, 0.04),
    ('seresnet50', 'alt-pool-large'): (71.07, 0.13, 74.27, 0.18),
}
S2S_VARIANTS = ('linear', 'alt-linear', 'conv', 'alt-conv', 'pool', 'alt-pool',
                'pool-large', 'alt-pool-large')

# Tables 1 (fixed path length) and 2 (general tree) of the DHNN paper:
# test (path accuracy, node accuracy) in percent on the authors'
# proprietary data. 'flat' rows: the CNN alone, under each tree.
TABLE1 = {
    ('vgg16', 'flat'): (64.0, 71.3),
    ('vgg16', 'rnn-pool'): (59.9, 77.3),
    ('vgg16', 'rnn-alt-pool'): (61.7, 78.1),
    ('vgg16', 'rnn-alt-pool-resi'): (65.3, 80.5),
    ('resnet50', 'flat'): (62.1, 68.8),
    ('resnet50', 'rnn-pool'): (63.4, 78.9),
    ('resnet50', 'rnn-alt-pool'): (62.4, 77.0),
    ('resnet50', 'rnn-alt-pool-resi'): (64.0, 78.4),
}
TABLE2 = {
    ('vgg16', 'flat'): (72.8, 87.2),
    ('vgg16', 's2s-pool'): (73.7, 88.1),
    ('vgg16', 's2s-alt-pool'): (72.3, 87.2),
    ('resnet50', 'flat'): (71.5, 86.4),
    ('resnet50', 's2s-pool'): (74.1, 88.0),
    ('resnet50', 's2s-alt-pool'): (68.3, 85.0),
}

HEADER = ('# Generated by configs/hier/_generate_configs.py: edit the script '
          'and run it,\n# not this file.\n')
ALT_BLOCK = """
# alternating training (section 4.1): the RNN part first (CNN frozen), then
# the CNN (RNN frozen), flipping every 2 epochs; everything from epoch 6 on
custom_hooks = [
    dict(type='AlternatingFreezeHook', period=2, unfreeze_all_after=6)
]
# freezing under DDP needs the wrapper to find unused parameters
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
"""


def _bases(model: str, data: str, schedule: str) -> str:
    return ('_base_ = [\n'
            f"    '../_base_/models/{model}.py',\n"
            f"    '../_base_/datasets/{data}.py',\n"
            f"    '../_base_/schedules/{schedule}.py', "
            "'../_base_/default_runtime.py'\n]\n")


def _wrap_comment(text: str) -> str:
    """``text`` as ``#`` lines of at most 79 columns."""
    lines, line = [], '#'
    for word in text.split():
        if len(line) + 1 + len(word) > 79:
            lines.append(line)
            line = '#'
        line += ' ' + word
    lines.append(line)
    return '\n'.join(lines) + '\n'


def paper_name(backbone: str, variant: str, table: int) -> str:
    """The method's name in the paper, e.g. ``Res-S2S-Alt-Pool-L``."""
    _, short, flat = BACKBONES[backbone]
    if variant == 'flat':
        return flat
    parts = variant.split('-')
    if table == 3:
        name = f'{short}-S2S' + ('-Alt' if 'alt' in parts else '')
        conv = [p for p in parts if p in ('linear', 'conv', 'pool')][0]
        name += '-' + conv.capitalize()
        return name + ('-L' if 'large' in parts else '')
    name = f'{short}-{parts[0].upper()}' + ('-Alt' if 'alt' in parts else '')
    return name + ('-Resi' if 'resi' in parts else '')


def alias_name(backbone: str, variant: str, table: int) -> str:
    """Short file name after the paper's method name, e.g.
    ``res50_s2s_alt_pool_large_oi.py`` for Res-S2S-Alt-Pool-L."""
    if table == 3:
        rest = variant if variant == 'flat' else f's2s-{variant}'
        data = 'oi'
    else:
        # the paper names its real-data rows without the (pool) conversion
        rest = variant.replace('-pool', '')
        data = 'custom'
    return f"{BACKBONES[backbone][0]}_{rest.replace('-', '_')}_{data}.py"


def _oi_config(backbone: str, variant: str) -> Tuple[str, str]:
    """(file name, text) of one Table 3 config."""
    path, sd_p, node, sd_n = TABLE3[(backbone, variant)]
    name = paper_name(backbone, variant, 3)
    bb_text = {
        'vgg16': 'VGG-16',
        'resnet50': 'ResNet-50',
        'seresnet50': 'SE-ResNet-50',
        'cbam-resnet50': 'CBAM-ResNet-50'
    }[backbone]
    paper = (f'Paper: path F1 {path:.2f} ({sd_p:.2f}), node F1 {node:.2f} '
             f'({sd_n:.2f}), mean (sd) of 3 runs.')
    if variant == 'flat':
        file = f'flat_{backbone}_{NXB}_openimages-hier.py'
        text = _wrap_comment(
            f'{name} of the DHNN paper\'s Table 3: the flat {bb_text} with '
            'one sigmoid output per node of the Open Images tree '
            '(multi-label), scored on the same path and node F1 as the '
            f'hierarchical models. {paper} It trains on the multi-hot '
            'gt_score over the nodes of all label paths (PackHierInputs '
            'with num_nodes).')
        text += HEADER + _bases(f'flat_{backbone}', 'openimages_hier',
                                'adam_15e')
        text += '\n'
        if backbone == 'vgg16':
            text += ('model = dict(\n'
                     '    backbone=dict(num_classes={{_base_.num_nodes}}),\n'
                     "    head=dict(_delete_=True, type='MultiLabelClsHead'))"
                     '\n')
        else:
            text += ('model = dict(\n'
                     '    head=dict(\n'
                     '        _delete_=True,\n'
                     "        type='MultiLabelLinearClsHead',\n"
                     '        num_classes={{_base_.num_nodes}},\n'
                     '        in_channels=2048))\n')
        return file, text

    parts = variant.split('-')
    alt, large = 'alt' in parts, 'large' in parts
    conv = [p for p in parts if p in ('linear', 'conv', 'pool')][0]
    file = f's2s-{variant}_{backbone}_{NXB}_openimages-hier.py'
    conv_text = {
        'linear':
        'linear conversion (n-mode products)',
        'conv':
        'convolutional conversion',
        'pool': ('pooling conversion (plain pooling, no weights)' if large else
                 'pooling conversion (pooling, then n-mode products)')
    }[conv]
    size = ('large S2S (p = 2048, h = 1024)'
            if large else 'small S2S (p = 256, h = 512)')
    text = _wrap_comment(
        f'{name} of the DHNN paper\'s Table 3: {bb_text}, CNN-S2S, the '
        f'{conv_text}, the {size}' +
        (', alternating training' if alt else '') +
        f', Open Images tree (multi-label). {paper}')
    text += HEADER + _bases(f'dhnn_s2s_{backbone}', 'openimages_hier',
                            'adam_15e')
    neck, head = [], ['tree={{_base_.class_tree}}', 'multi_label=True']
    if conv != 'pool':
        neck.append(f"conversion='{conv}'")
    if large:
        neck = ['out_channels=2048', "conversion='pool'"]
        head += ['in_channels=2048', 'hidden_size=1024']
    text += '\nmodel = dict(\n'
    if neck:
        text += f"    neck=dict({', '.join(neck)}),\n"
    text += '    head=dict(\n' + ''.join(
        f'        {h},\n' for h in head[:-1]) + f'        {head[-1]}))\n'
    if alt:
        text += ALT_BLOCK
    return file, text


def _custom_config(backbone: str, variant: str) -> Tuple[str, str]:
    """(file name, text) of one Table 1 / Table 2 config."""
    bb_text = {'vgg16': 'VGG-16', 'resnet50': 'ResNet-50'}[backbone]
    if variant == 'flat':
        p1, n1 = TABLE1[(backbone, 'flat')]
        p2, n2 = TABLE2[(backbone, 'flat')]
        file = f'flat_{backbone}_{NXB}_custom-hier.py'
        text = _wrap_comment(
            f'{BACKBONES[backbone][2]} of the DHNN paper\'s Tables 1 and 2: '
            f'the flat {bb_text} with one softmax output per node of your '
            'tree, scored through the implied path of the predicted node '
            '(Remark 1). Paper, on its proprietary data: path / node '
            f'accuracy {p1} / {n1} (fixed-depth tree), {p2} / {n2} '
            '(general tree).')
        text += HEADER + _bases(f'flat_{backbone}', 'custom_hier', 'adam_30e')
        text += '\n'
        if backbone == 'vgg16':
            text += ('model = dict(backbone=dict(num_classes='
                     '{{_base_.num_nodes}}))\n')
        else:
            text += ('model = dict(head=dict(num_classes='
                     '{{_base_.num_nodes}}))\n')
        return file, text

    parts = variant.split('-')
    alt, resi = 'alt' in parts, 'resi' in parts
    table = 1 if parts[0] == 'rnn' else 2
    path, node = (TABLE1 if table == 1 else TABLE2)[(backbone, variant)]
    name = paper_name(backbone, variant, table)
    file = f'{variant}_{backbone}_{NXB}_custom-hier.py'
    if table == 1:
        what = ('CNN-RNN (fixed path length, a tree with every class at '
                'depth 3)')
    else:
        what = 'CNN-S2S (general tree, large S2S: p = 2048, h = 1024)'
    text = _wrap_comment(
        f'{name} of the DHNN paper\'s Table {table}: {bb_text}, {what}, '
        'the pooling conversion' + (', residual arcs' if resi else '') +
        (', alternating training' if alt else '') +
        f', on your own single-label data. Paper, on its proprietary '
        f'data: path accuracy {path}, node accuracy {node}.')
    model = f'dhnn_{parts[0]}_{backbone}'
    text += HEADER + _bases(model, 'custom_hier', 'adam_30e')
    head = ['tree={{_base_.class_tree}}']
    neck = []
    if table == 2:
        neck = ['out_channels=2048', "conversion='pool'"]
        head += ['in_channels=2048', 'hidden_size=1024']
    if resi:
        head.append('residual=True')
    text += '\nmodel = dict(\n'
    if neck:
        text += f"    neck=dict({', '.join(neck)}),\n"
    if len(head) == 1:
        text += f'    head=dict({head[0]}))\n'
    else:
        text += '    head=dict(\n' + ''.join(
            f'        {h},\n' for h in head[:-1]) + f'        {head[-1]}))\n'
    if alt:
        text += ALT_BLOCK
    return file, text


def _alias(file: str, backbone: str, variant: str,
           table: int) -> Tuple[str, str]:
    """(file name, text) of the short alias of ``file``."""
    name = paper_name(backbone, variant, table)
    tables = 'Tables 1 and 2' if table == 12 else f'Table {table}'
    text = _wrap_comment(f"{name} of the DHNN paper's {tables}: the short "
                         f'name of {file}.')
    text += HEADER + f"_base_ = './{file}'\n"
    return alias_name(backbone, variant, table), text


def _fmt(x: float) -> str:
    return f'{x:.2f}'


def rows() -> List[dict]:
    """Every generated config as a dict (file, alias, table, paper row)."""
    out = []
    for backbone in BACKBONES:
        for variant in ('flat', ) + S2S_VARIANTS:
            file, text = _oi_config(backbone, variant)
            alias, alias_text = _alias(file, backbone, variant, 3)
            path, sd_p, node, sd_n = TABLE3[(backbone, variant)]
            out.append(
                dict(
                    table=3,
                    file=file,
                    text=text,
                    alias=alias,
                    alias_text=alias_text,
                    method=paper_name(backbone, variant, 3),
                    paper=(f'{_fmt(path)} ({_fmt(sd_p)})',
                           f'{_fmt(node)} ({_fmt(sd_n)})')))
    for backbone in ('vgg16', 'resnet50'):
        for variant in ('flat', 'rnn-pool', 'rnn-alt-pool',
                        'rnn-alt-pool-resi', 's2s-pool', 's2s-alt-pool'):
            file, text = _custom_config(backbone, variant)
            table = 2 if variant.startswith('s2s') else 1
            table = 12 if variant == 'flat' else table
            alias, alias_text = _alias(file, backbone, variant, table)
            if variant == 'flat':
                t1, t2 = TABLE1[(backbone, 'flat')], TABLE2[(backbone, 'flat')]
                paper = (f'{t1[0]} (T1), {t2[0]} (T2)',
                         f'{t1[1]} (T1), {t2[1]} (T2)')
            else:
                path, node = (TABLE1 if table == 1 else TABLE2)[(backbone,
                                                                 variant)]
                paper = (f'{path}', f'{node}')
            out.append(
                dict(
                    table=table,
                    file=file,
                    text=text,
                    alias=alias,
                    alias_text=alias_text,
                    method=paper_name(backbone, variant, table),
                    paper=paper))
    return out


def readme_tables(all_rows: List[dict]) -> Dict[str, str]:
    """Markdown tables keyed by marker name."""
    t3 = [
        '| Paper method | Config (short name) | Full config | Paper path F1 '
        '(sd) | Paper node F1 (sd) |', '| --- | --- | --- | --- | --- |'
    ]
    t12 = [
        '| Paper method | Table | Config (short name) | Full config | '
        'Paper path acc. | Paper node acc. |',
        '| --- | --- | --- | --- | --- | --- |'
    ]
    for r in all_rows:
        links = (f"[{r['alias']}]({r['alias']}) | "
                 f"[{r['file']}]({r['file']})")
        paper = ' | '.join(r['paper'])
        if r['table'] == 3:
            t3.append(f"| {r['method']} | {links} | {paper} |")
        else:
            table = {1: '1', 2: '2', 12: '1, 2'}[r['table']]
            t12.append(f"| {r['method']} | {table} | {links} | {paper} |")
    return dict(table3='\n'.join(t3) + '\n', tables12='\n'.join(t12) + '\n')


def _format(text: str) -> str:
    """``text`` formatted by yapf with the repository's style, as the
    hand-written configs are."""
    from yapf.yapflib.yapf_api import FormatCode
    style = osp.join(osp.dirname(osp.dirname(HERE)), 'setup.cfg')
    return FormatCode(text, style_config=style)[0]


def expected_files() -> Dict[str, str]:
    """Path -> content of every generated config."""
    files = {}
    for r in rows():
        files[osp.join(HERE, r['file'])] = _format(r['text'])
        files[osp.join(HERE, r['alias'])] = _format(r['alias_text'])
    return files


def render_readme(text: str) -> str:
    """``text`` with the generated tables put between their markers."""
    for key, table in readme_tables(rows()).items():
        pattern = re.compile(
            rf'(<!-- generated:{key} begin -->\n).*?'
            rf'(<!-- generated:{key} end -->)', re.S)
        if not pattern.search(text):
            raise ValueError(f'{README} lacks the markers of {key!r}')
        text = pattern.sub(lambda m: m.group(1) + table + m.group(2), text)
    return text


def stale_files() -> List[str]:
    """Generated files (and the README) that differ from the script."""
    stale = []
    for path, text in expected_files().items():
        if not osp.isfile(path) or open(path, encoding='utf-8').read() != text:
            stale.append(path)
    if osp.isfile(README):
        text = open(README, encoding='utf-8').read()
        if render_readme(text) != text:
            stale.append(README)
    else:
        stale.append(README)
    return stale


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--check',
        action='store_true',
        help='only list the files that are not up to date (exit 1 if any)')
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f'stale: {osp.relpath(path)}')
        return 1 if stale else 0
    for path, text in expected_files().items():
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)
    with open(README, encoding='utf-8') as f:
        text = f.read()
    with open(README, 'w', encoding='utf-8') as f:
        f.write(render_readme(text))
    print(f'wrote {len(expected_files())} configs and the README tables')
    return 0


if __name__ == '__main__':
    sys.exit(main())
