# Your own single-label hierarchical data at 224 px, in the layout of the
# DHNN paper's real-data experiments (section 4.1; its data set is
# proprietary, so Table 1 can only be reproduced on data of your own):
#
#   data/custom_hier/
#     tree.json                   the class tree (any format ClassTree reads)
#     train.txt val.txt test.txt  "relative/image.jpg a/b/c" lines
#     images/                     the images
#
# (HierDataset also reads OpenMMLab JSON annotations and class folders, see
# its docstring.) The fixed path length CNN-RNN needs every class at the
# same depth T, and its neck one stage group per level: adapt
# `stage_groups` to the depth of your tree.
#
# Heads read the same tree: `head=dict(tree={{_base_.class_tree}})`.
data_root = 'data/custom_hier/'
class_tree = data_root + 'tree.json'
# N, the number of nodes of your tree, for the flat baselines over all nodes
# (18 is the size of the paper's fixed-depth tree): set it to yours
num_nodes = 18

dataset_type = 'HierDataset'
# mmpretrain's ClsDataPreprocessor that also batches gt_path once a step,
# on the device, for the hierarchical heads (flat heads ignore it)
data_preprocessor = dict(
    type='HierDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

# Section 4.1: shorter side resized to a random size in [256, 512], then a
# 224 x 224 crop.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResize',
        scale=[(256, 4096), (512, 4096)],  # short edge in [256, 512]
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=224, pad_if_needed=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackHierInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackHierInputs'),
]

train_dataloader = dict(
    batch_size=32,  # the paper's batch size, on one GPU
    num_workers=8,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='train.txt',
        data_prefix='images/',
        tree=class_tree,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='val.txt',
        data_prefix='images/',
        tree=class_tree,
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='test.txt',
        data_prefix='images/',
        tree=class_tree,
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))

# Path and node accuracy (Tables 1 and 2; flat models through Remark 1).
val_evaluator = [
    dict(type='HierAccuracy'),
    dict(type='HierF1'),
    dict(type='MistakeSeverity', topk=(1, 5)),
]
test_evaluator = val_evaluator
