# The CNN-RNN generator of Guo et al. (section 3.2 of their paper) at CPU
# scale, for 28 x 28 grey images (Fashion-MNIST): the CIFAR ResNet-18 with
# 16 base channels gives the image feature v (global average pooling of
# the last stage, 128 values), which enters every gate of an LSTM that
# emits the labels from coarse to fine over one output space of all N
# nodes (greedy decoding, as in the paper). For 32 x 32 RGB images
# (CIFAR-100) set backbone.in_channels=3. The final config sets
# `head.tree`.
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
        type='GuoRNNHead',
        in_channels=128,  # size of v
        hidden_size=128,  # LSTM memory (the paper: equal to the embedding)
        decoder='greedy'))
