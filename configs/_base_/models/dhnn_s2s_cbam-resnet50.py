# DHNN CNN-S2S (general tree model, section 3.2 of the DHNN paper) on
# CBAM-ResNet-50 (mmhier's CBAMResNet); otherwise as dhnn_s2s_resnet50.py.
# mmpretrain ships no ImageNet weights for CBAM-ResNet-50, so the backbone
# is trained from scratch unless you add an init_cfg with a checkpoint of
# your own (the paper started every CNN from ImageNet weights).
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='CBAMResNet',
        depth=50,
        # a_s: 256x56x56 ... 2048x7x7 at 224 px
        out_indices=(0, 1, 2, 3)),
    neck=dict(
        type='HierConversionNeck',
        in_channels=(256, 512, 1024, 2048),
        input_size=224,
        out_channels=256,  # p
        # S_t, one group per level of the depth-3 tree, shallow stages at
        # the coarse steps (the paper's definition of S_t)
        stage_groups=[[0, 1], [2], [3]],
        # the paper's pooling conversion: each stage max-pooled to a 4x4 grid
        # (the authors' code keeps 4x4 or 7x7 maps), then n-mode products
        # (D_s, 4, 4) -> p
        conversion=dict(
            type='HierPoolConversion', projection='mode', grid=4)),
    head=dict(
        type='HierS2SHead',
        in_channels=256,  # p
        hidden_size=512,  # h
        num_layers=1,
        bidirectional=True,
        # the paper's decoder: reads its own previous softmax (sigmoid)
        # output, free-running in training and inference
        decoder_input='softmax',
        beam_size=5))
