# CRM (Karthik et al., "No Cost Likelihood Manipulation at Test Time for
# Making Better Mistakes", ICLR 2021) on the flat baseline of
# configs/flat/flat_resnet18-tiny_fmnist-fixed.py: training and checkpoint
# are the baseline's; at test time the prediction is the leaf of least
# expected tree distance under the softmax. Test a baseline checkpoint:
#   python tools/test.py \
#       configs/hier_aware/flat-crm_resnet18-tiny_fmnist-fixed.py \
#       work_dirs/flat_resnet18-tiny_fmnist-fixed/epoch_3.pth
_base_ = [
    '../_base_/models/flat_resnet18-tiny.py',
    '../_base_/datasets/fashion_mnist_hier_fixed.py',
    '../_base_/schedules/cpu_short.py', '../_base_/default_runtime.py'
]

model = dict(
    head=dict(
        type='HierLinearClsHead',
        num_classes={{_base_.num_nodes}},
        tree={{_base_.class_tree}},
        decode='crm'))
