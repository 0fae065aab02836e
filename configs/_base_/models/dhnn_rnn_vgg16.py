# DHNN CNN-RNN (fixed path length model, section 3.1 of the DHNN paper) on
# an ImageNet-pretrained VGG-16 (convolutional part only); otherwise as
# dhnn_rnn_resnet50.py (plain pooling also gives exactly p = 2048 values
# from every VGG-16 stage).
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
        out_channels=2048,  # p
        stage_groups=[[0, 1], [2, 3], [4]],  # S_t for a tree of depth T = 3
        conversion='pool'),
    head=dict(
        type='HierRNNHead',
        in_channels=2048,  # p
        hidden_size=512,  # h
        num_layers=3,
        bidirectional=True,
        residual=False,
        beam_size=5))
