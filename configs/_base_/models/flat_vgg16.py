# The flat baseline of the DHNN paper on an ImageNet-pretrained VGG-16 with
# its fully connected layers (the classifier inside mmpretrain's VGG, its
# last layer resized to N): one output per node of the tree, so a node
# index is a class and the hierarchical metrics score its implied path
# (Remark 1). The final config sets `backbone.num_classes` to N.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VGG',
        depth=16,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'vgg/vgg16_batch256_imagenet_20210208-db26f1a5.pth',
            prefix='backbone')),
    neck=None,
    head=dict(
        type='ClsHead',
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))
