# DHNN CNN-RNN (fixed path length model, section 3.1 of the DHNN paper) on
# an ImageNet-pretrained ResNet-50: the stage maps are pooled to one
# p-vector per level of the tree and read by a three-layer bidirectional
# LSTM, one node per level (section 4.1: p in [512, 4096], h in [512, 1024],
# three RNN layers, pooling conversion). p = 2048 lets plain pooling (no
# weights, appendix B) give exactly p values from every ResNet-50 stage.
# The final config sets `head.tree`; a tree of depth T needs T stage groups.
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet',
        depth=50,
        out_indices=(0, 1, 2, 3),  # a_s: 256x56x56 ... 2048x7x7 at 224 px
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth',
            prefix='backbone')),
    neck=dict(
        type='HierConversionNeck',
        in_channels=(256, 512, 1024, 2048),
        input_size=224,
        out_channels=2048,  # p
        stage_groups=[[0, 1], [2], [3]],  # S_t for a tree of depth T = 3
        conversion='pool'),
    head=dict(
        type='HierRNNHead',
        in_channels=2048,  # p
        hidden_size=512,  # h
        num_layers=3,
        bidirectional=True,
        residual=False,
        beam_size=5))
