# HierNet (Tempfli and Sandor) at CPU scale, for 28 x 28 grey images
# (Fashion-MNIST): the CIFAR ResNet-18 with 16 base channels (8 residual
# blocks) is cut into one segment per tree level; the first segment (the
# trunk) is shared, every inner node gets its own copy of the next
# segments and a softmax classifier over its children, and a sample is
# routed down the tree (section 3 of the paper). Both evaluations of the
# paper are computed ('fast': greedy routing; 'slow': every branch) and
# the 'slow' one fills pred_path for the metrics. The defaults are for a
# tree of depth 3 (two cuts); for 32 x 32 RGB images (CIFAR-100) set
# backbone.in_channels=3. The final config sets `tree`.
model = dict(
    type='HierNetClassifier',
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        in_channels=1,
        stem_channels=16,
        base_channels=16),
    split_points=[4, 6],  # trunk: stem + 4 blocks; then 2 + 2 blocks
    extra_layers=0,
    eval_mode='both',
    main_eval='slow')
