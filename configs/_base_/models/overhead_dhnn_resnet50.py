# The DHNN models of the speed benchmark (benchmarks/overhead.py): a
# ResNet-50 at 224 px whose stages [[0, 1], [2], [3]] feed steps 1-3, and a
# 30-node tree with the shape of the DHNN paper's Open Images tree
# (appendix C: 2, 4 and 24 nodes on levels 1-3). Random images, default
# initialisation. A variant sets the head type, the conversion and p / h.
model = dict(
    type='ImageClassifier',
    # batches gt_path once a step, as the DHNN configs do
    data_preprocessor=dict(
        type='HierDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(type='ResNet', depth=50, out_indices=(0, 1, 2, 3)),
    neck=dict(
        type='HierConversionNeck',
        in_channels=(256, 512, 1024, 2048),
        out_channels=256,  # p
        stage_groups=[[0, 1], [2], [3]],
        input_size=224,
        conversion='linear'),
    head=dict(
        type='HierS2SHead',
        tree={
            'a': {
                'ax': [f'ax{i}' for i in range(10)],
                'ay': [f'ay{i}' for i in range(6)],
            },
            'b': {
                'bx': [f'bx{i}' for i in range(6)],
                'by': ['by0', 'by1'],
            },
        },
        in_channels=256,  # p
        hidden_size=512))  # h
