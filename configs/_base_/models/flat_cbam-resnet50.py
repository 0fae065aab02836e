# The flat baseline of the DHNN paper on CBAM-ResNet-50 (mmhier's
# CBAMResNet; no ImageNet weights ship with mmpretrain, so it is trained
# from scratch unless you add an init_cfg with a checkpoint of your own):
# one linear classifier over all N nodes of the tree, so a node index is a
# class and the hierarchical metrics score its implied path (Remark 1).
# The final config sets `head.num_classes` to N.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='CBAMResNet', depth=50, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))
