# DHNN CNN-S2S (general tree model, section 3.2 of the DHNN paper) at CPU
# scale, for 28 x 28 grey images (Fashion-MNIST): mmpretrain's CIFAR ResNet-18
# with 16 base channels (0.7 M parameters) gives four stage maps (16x28x28,
# 32x14x14, 64x7x7, 128x4x4), each pooled to p = 128 values (plain pooling,
# no weights: 16x2x4, 32x2x2, 64x1x2, 128x1x1) and read in turn by a small
# bidirectional LSTM encoder-decoder. For 32 x 32 RGB images (CIFAR-100)
# set backbone.in_channels=3 and neck.input_size=32. The final config sets
# `head.tree`.
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
        stage_groups=[[0], [1], [2], [3]],  # encoder steps, one per stage
        conversion='pool'),
    head=dict(
        type='HierS2SHead',
        in_channels=128,  # p
        hidden_size=128,  # h
        num_layers=1,
        bidirectional=True,
        beam_size=5))
