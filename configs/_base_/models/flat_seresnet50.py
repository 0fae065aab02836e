# The flat baseline of the DHNN paper on an ImageNet-pretrained SE-ResNet-50:
# one linear classifier over all N nodes of the tree, so a node index is a
# class and the hierarchical metrics score its implied path (Remark 1).
# The final config sets `head.num_classes` to N.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='SEResNet',
        depth=50,
        out_indices=(3, ),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'se-resnet/se-resnet50_batch256_imagenet_20200804-ae206104.pth',
            prefix='backbone')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, )))
