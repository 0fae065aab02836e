# Res-RNN of the DHNN paper's Table 1: ResNet-50, CNN-RNN (fixed path length:
# every class of the tree at depth 3, one stage group per level) with the
# pooling conversion, on your own single-label data. Paper, on its proprietary
# data: path accuracy 63.4, node accuracy 78.9.
_base_ = [
    '../_base_/models/dhnn_rnn_resnet50.py',
    '../_base_/datasets/custom_hier.py', '../_base_/schedules/adam_30e.py',
    '../_base_/default_runtime.py'
]

model = dict(head=dict(tree={{_base_.class_tree}}))
