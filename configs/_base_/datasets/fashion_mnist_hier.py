# Fashion-MNIST (28 x 28 grey, 60,000 train / 10,000 test images) with its
# 10 classes placed in a WordNet-derived tree (mmhier/datasets/trees/):
# 'variable' here (leaves at depths 1 to 5, 'Shirt' an inner node above
# 'T-shirt_top': a general tree for CNN-S2S), 'fixed' in
# fashion_mnist_hier_fixed.py (every class at depth 3, for CNN-RNN).
#
# The data root holds the four official idx files (gzipped or not); set
# FASHION_MNIST_DIR, e.g. to /usr/share/datasets/fashion-mnist where
# Debian's dataset-fashion-mnist installs them. When the files are missing,
# mmpretrain downloads them into the data root. The test split serves as
# validation set too, as in mmpretrain's MNIST / CIFAR configs.
#
# Heads read the same tree: `head=dict(tree={{_base_.class_tree}})`.
data_root = '{{$FASHION_MNIST_DIR:data/fashion_mnist}}'
class_tree = ('{{fileDirname}}/../../../mmhier/datasets/trees/'
              'fashion_mnist_variable.json')
num_nodes = 15  # N, for flat baselines over all tree nodes

dataset_type = 'HierFashionMNIST'
# mmpretrain's ClsDataPreprocessor that also batches gt_path once a step,
# on the device, for the hierarchical heads (flat heads ignore it)
data_preprocessor = dict(
    type='HierDataPreprocessor',
    mean=[72.94],  # Fashion-MNIST statistics
    std=[90.02],
    to_rgb=False)

train_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackHierInputs'),
]
test_pipeline = [dict(type='PackHierInputs')]

train_dataloader = dict(
    batch_size=128,
    num_workers=0,  # images are in memory
    persistent_workers=False,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        tree=class_tree,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        tree=class_tree,
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader

# Path / node accuracy of the DHNN paper (flat models through Remark 1),
# hierarchical F1 and the severity of mistakes (hdist@5 needs 5 paths:
# heads keep beam_size >= 5; greedy heads set topk=1).
val_evaluator = [
    dict(type='HierAccuracy'),
    dict(type='HierF1'),
    dict(type='MistakeSeverity', topk=(1, 5)),
]
test_evaluator = val_evaluator
