# Res-S2S of the DHNN paper's Table 2: ResNet-50, CNN-S2S (general tree) with
# the large S2S (p = 2048, h = 1024) and the pooling conversion as plain
# pooling, on your own single-label data. Paper, on its proprietary data: path
# accuracy 74.1, node accuracy 88.0.
_base_ = [
    '../_base_/models/dhnn_s2s_resnet50.py',
    '../_base_/datasets/custom_hier.py', '../_base_/schedules/adam_30e.py',
    '../_base_/default_runtime.py'
]

model = dict(
    neck=dict(out_channels=2048, conversion='pool'),
    head=dict(tree={{_base_.class_tree}}, in_channels=2048, hidden_size=1024))
