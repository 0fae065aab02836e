# Res-50 of the DHNN paper's Table 3: the flat ResNet-50 with one sigmoid
# output per node of the Open Images tree (multi-label), trained on the multi-
# hot gt_score over the nodes of all label paths and scored on the path and
# node F1 of the hierarchical models. Paper: path F1 71.15 (0.04), node F1
# 74.47 (0.07), mean (sd) of 3 runs.
_base_ = [
    '../_base_/models/flat_resnet50.py',
    '../_base_/datasets/openimages_hier.py', '../_base_/schedules/adam_15e.py',
    '../_base_/default_runtime.py'
]

model = dict(
    head=dict(
        _delete_=True,
        type='MultiLabelLinearClsHead',
        num_classes={{_base_.num_nodes}},
        in_channels=2048))
