# SE-Res-S2S-Pool-L of the DHNN paper's Table 3: SE-ResNet-50, CNN-S2S with the
# large S2S (p = 2048, h = 1024) with the pooling conversion as plain pooling
# (no weights, appendix B), on the Open Images tree (multi-label). Paper: path
# F1 71.75 (0.09), node F1 75.07 (0.04), mean (sd) of 3 runs.
_base_ = [
    '../_base_/models/dhnn_s2s_seresnet50.py',
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
