# VGG-16 of the DHNN paper's Table 3: the flat VGG-16 with one sigmoid output
# per node of the Open Images tree (multi-label), trained on the multi-hot
# gt_score over the nodes of all label paths and scored on the path and node F1
# of the hierarchical models. Paper: path F1 68.62 (0.09), node F1 72.29
# (0.09), mean (sd) of 3 runs.
_base_ = [
    '../_base_/models/flat_vgg16.py', '../_base_/datasets/openimages_hier.py',
    '../_base_/schedules/adam_15e.py', '../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(num_classes={{_base_.num_nodes}}),
    head=dict(_delete_=True, type='MultiLabelClsHead'))
