# SE-Res-S2S-Conv of the DHNN paper's Table 3: SE-ResNet-50, CNN-S2S with the
# convolutional conversion and the small S2S (p = 256, h = 512), on the Open
# Images tree (multi-label). Paper: path F1 70.49 (0.15), node F1 73.65 (0.14),
# mean (sd) of 3 runs.
_base_ = [
    '../_base_/models/dhnn_s2s_seresnet50.py',
    '../_base_/datasets/openimages_hier.py', '../_base_/schedules/adam_15e.py',
    '../_base_/default_runtime.py'
]

model = dict(
    neck=dict(conversion='conv'),
    head=dict(tree={{_base_.class_tree}}, multi_label=True))
