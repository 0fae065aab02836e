# VGG-16 of the DHNN paper's Tables 1 and 2: the flat VGG-16 with one softmax
# output per node of your tree, scored through the implied path of the
# predicted node (Remark 1). Paper, on its proprietary data: path / node
# accuracy 64.0 / 71.3 (fixed-depth tree), 72.8 / 87.2 (general tree).
_base_ = [
    '../_base_/models/flat_vgg16.py', '../_base_/datasets/custom_hier.py',
    '../_base_/schedules/adam_30e.py', '../_base_/default_runtime.py'
]

model = dict(backbone=dict(num_classes={{_base_.num_nodes}}))
