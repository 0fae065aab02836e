# Res-S2S-Pool-L of the DHNN paper's Table 3: ResNet-50, CNN-S2S with the large
# S2S (p = 2048, h = 1024) with the pooling conversion as plain pooling (no
# weights, appendix B), on the Open Images tree (multi-label). Paper: path F1
# 72.05 (0.06), node F1 75.43 (0.03), mean (sd) of 3 runs.
_base_ = [
    '../_base_/models/dhnn_s2s_resnet50.py',
    '../_base_/datasets/openimages_hier.py', '../_base_/schedules/adam_15e.py',
    '../_base_/default_runtime.py'
]

model = dict(
    neck=dict(out_channels=2048, conversion='pool'),
    head=dict(
        tree={{_base_.class_tree}},
        multi_label=True,
        in_channels=2048,
        hidden_size=1024))
