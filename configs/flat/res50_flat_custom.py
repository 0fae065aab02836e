# Res-50 of the DHNN paper's Tables 1 and 2: the flat ResNet-50 with one
# softmax output per node of your tree, scored through the implied path of the
# predicted node (Remark 1). Paper, on its proprietary data: path / node
# accuracy 62.1 / 68.8 (fixed-depth tree), 71.5 / 86.4 (general tree).
_base_ = [
    '../_base_/models/flat_resnet50.py', '../_base_/datasets/custom_hier.py',
    '../_base_/schedules/adam_30e.py', '../_base_/default_runtime.py'
]

model = dict(head=dict(num_classes={{_base_.num_nodes}}))
