# VGG-RNN of the DHNN paper's Table 1: VGG-16, CNN-RNN (fixed path length:
# every class of the tree at depth 3, one stage group per level) with the
# pooling conversion, on your own single-label data. Paper, on its proprietary
# data: path accuracy 59.9, node accuracy 77.3.
_base_ = [
    '../_base_/models/dhnn_rnn_vgg16.py', '../_base_/datasets/custom_hier.py',
    '../_base_/schedules/adam_30e.py', '../_base_/default_runtime.py'
]

model = dict(head=dict(tree={{_base_.class_tree}}))
