# HierNet on CIFAR-100 with the class tree grouped from a flat model's
# confusions (section 4 of the paper; see flat-classes_resnet18-tiny_
# cifar100.py for the commands that write data/cifar100_hiernet_tree.json).
# The grouping may give groups of different sizes and a leaf next to a
# group; HierNet aligns the cuts to the leaves.
_base_ = ['./hiernet_resnet18-tiny_cifar100.py']

class_tree = 'data/cifar100_hiernet_tree.json'
num_nodes = None  # depends on the grouping

model = dict(tree=class_tree)
train_dataloader = dict(dataset=dict(tree=class_tree))
val_dataloader = dict(dataset=dict(tree=class_tree))
test_dataloader = val_dataloader
