# SE-Res-S2S-Pool of the DHNN paper's Table 3: SE-ResNet-50, CNN-S2S with the
# pooling conversion (pooling, then n-mode products) and the small S2S
# (p = 256, h = 512), on the Open Images tree (multi-label). Paper: path F1
# 71.79 (0.15), node F1 75.12 (0.16), mean (sd) of 3 runs.
_base_ = [
    '../_base_/models/dhnn_s2s_seresnet50.py',
    '../_base_/datasets/openimages_hier.py', '../_base_/schedules/adam_15e.py',
    '../_base_/default_runtime.py'
]

model = dict(head=dict(tree={{_base_.class_tree}}, multi_label=True))
