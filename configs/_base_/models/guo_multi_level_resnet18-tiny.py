# The CNN baselines of Guo et al. (section 3.1, Fig. 2) at CPU scale, for
# 28 x 28 grey images (Fashion-MNIST): the CIFAR ResNet-18 with 16 base
# channels and one softmax classifier per tree level on its pooled feature
# ("fine-and-coarse", Strategy 3; the final config may switch the head to
# HierCoarseToFineHead or HierFineToCoarseHead, the two stacked
# strategies). Each level decodes on its own, as in the paper. For 32 x 32
# RGB images (CIFAR-100) set backbone.in_channels=3. The final config sets
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
        type='HierMultiLevelHead', in_channels=128, decoder='independent'))
