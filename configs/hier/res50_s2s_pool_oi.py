# Res-S2S-Pool of the DHNN paper's Table 3: ResNet-50, CNN-S2S with the pooling
# conversion (pooling, then n-mode products) and the small S2S (p = 256,
# h = 512), on the Open Images tree (multi-label). Paper: path F1 71.98 (0.06),
# node F1 75.40 (0.07), mean (sd) of 3 runs.
_base_ = [
    '../_base_/models/dhnn_s2s_resnet50.py',
    '../_base_/datasets/openimages_hier.py', '../_base_/schedules/adam_15e.py',
    '../_base_/default_runtime.py'
]

model = dict(head=dict(tree={{_base_.class_tree}}, multi_label=True))
