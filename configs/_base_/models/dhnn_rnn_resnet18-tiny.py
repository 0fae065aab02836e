# DHNN CNN-RNN (fixed path length model, section 3.1 of the DHNN paper) at
# CPU scale, for 28 x 28 grey images (Fashion-MNIST): backbone and pooling
# conversion as in dhnn_s2s_resnet18-tiny.py; the T stage groups feed a
# three-layer bidirectional LSTM, one step per level of the tree. The
# default groups are for a tree of depth T = 3; the final config sets
# `head.tree` (and the groups for another depth).
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        in_channels=1,
        stem_channels=16,
        base_channels=16,
        out_indices=(0, 1, 2, 3)),
    neck=dict(
        type='HierConversionNeck',
        in_channels=(16, 32, 64, 128),
        input_size=28,
        strides=(1, 2, 4, 8),  # the CIFAR stem keeps the full resolution
        out_channels=128,  # p
        stage_groups=[[0, 1], [2], [3]],  # S_t for a tree of depth T = 3
        conversion='pool'),
    head=dict(
        type='HierRNNHead',
        in_channels=128,  # p
        hidden_size=128,  # h
        num_layers=3,
        bidirectional=True,
        residual=False,
        beam_size=5))
