# DHNN CNN-S2S (general tree model, section 3.2 of the DHNN paper) on an
# ImageNet-pretrained VGG-16 (convolutional part only): its five stage maps
# are converted to one p-vector per step; otherwise as dhnn_s2s_resnet50.py.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='VGG',
        depth=16,
        out_indices=(0, 1, 2, 3, 4),  # a_s: 64x112x112 ... 512x7x7
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'vgg/vgg16_batch256_imagenet_20210208-db26f1a5.pth',
            prefix='backbone')),
    neck=dict(
        type='HierConversionNeck',
        in_channels=(64, 128, 256, 512, 512),
        input_size=224,
        out_channels=256,  # p
        # S_t, one group per level of the depth-3 tree, shallow stages at
        # the coarse steps (the paper's definition of S_t)
        stage_groups=[[0, 1], [2, 3], [4]],
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
