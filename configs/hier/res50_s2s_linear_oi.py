# Res-S2S-Linear of the DHNN paper's Table 3: ResNet-50, CNN-S2S with the
# linear conversion (n-mode products) and the small S2S (p = 256, h = 512), on
# the Open Images tree (multi-label). Paper: path F1 72.14 (0.14), node F1
# 75.46 (0.16), mean (sd) of 3 runs.
_base_ = [
    '../_base_/models/dhnn_s2s_resnet50.py',
    '../_base_/datasets/openimages_hier.py', '../_base_/schedules/adam_15e.py',
    '../_base_/default_runtime.py'
]

model = dict(
    neck=dict(conversion='linear'),
    head=dict(tree={{_base_.class_tree}}, multi_label=True))
