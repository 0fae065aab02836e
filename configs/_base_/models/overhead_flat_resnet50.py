# The flat model of the speed benchmark (benchmarks/overhead.py): a
# ResNet-50 with one linear classifier over the 30 nodes of its tree,
# PyTorch's default initialisation (no pretrained weights: the benchmark
# times steps, it does not train).
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(type='ResNet', depth=50, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=30,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss')))
