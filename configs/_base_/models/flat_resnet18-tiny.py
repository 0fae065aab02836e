# The flat baseline at CPU scale, for 28 x 28 grey images (Fashion-MNIST):
# the backbone of dhnn_s2s_resnet18-tiny.py with one linear classifier over
# all N nodes of the tree, so a node index is a class and the hierarchical
# metrics score its implied path (DHNN paper, Remark 1). The final config
# sets `head.num_classes` to N.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        in_channels=1,
        stem_channels=16,
        base_channels=16,
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        in_channels=128,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))
