# Copyright (c) mmhier contributors. All rights reserved.
"""The papers' numbers that configs/_generate_metafiles.py writes into the
metafiles beside the configs they belong to (marked as the paper's)."""

# The DHNN paper's Table 3 (Open Images): mean (sd) over 3 runs, in percent,
# (path F1, sd, node F1, sd), by config (folder/stem).
PAPER_TABLE3 = {
    'flat/vgg16_flat_oi': (68.62, 0.09, 72.29, 0.09),
    'hier/vgg16_s2s_linear_oi': (71.49, 0.1, 74.84, 0.12),
    'hier/vgg16_s2s_alt_linear_oi': (70.76, 0.06, 73.97, 0.15),
    'hier/vgg16_s2s_conv_oi': (68.61, 0.41, 71.62, 0.51),
    'hier/vgg16_s2s_alt_conv_oi': (70.7, 0.14, 73.95, 0.06),
    'hier/vgg16_s2s_pool_oi': (71.39, 0.16, 74.76, 0.18),
    'hier/vgg16_s2s_alt_pool_oi': (71.49, 0.1, 74.84, 0.07),
    'hier/vgg16_s2s_pool_large_oi': (71.93, 0.09, 75.29, 0.07),
    'hier/vgg16_s2s_alt_pool_large_oi': (71.26, 0.13, 74.58, 0.17),
    'flat/res50_flat_oi': (71.15, 0.04, 74.47, 0.07),
    'hier/res50_s2s_linear_oi': (72.14, 0.14, 75.46, 0.16),
    'hier/res50_s2s_alt_linear_oi': (70.78, 0.09, 73.8, 0.14),
    'hier/res50_s2s_conv_oi': (70.42, 0.39, 73.55, 0.44),
    'hier/res50_s2s_alt_conv_oi': (70.75, 0.15, 73.98, 0.18),
    'hier/res50_s2s_pool_oi': (71.98, 0.06, 75.4, 0.07),
    'hier/res50_s2s_alt_pool_oi': (71.7, 0.06, 74.97, 0.09),
    'hier/res50_s2s_pool_large_oi': (72.05, 0.06, 75.43, 0.03),
    'hier/res50_s2s_alt_pool_large_oi': (71.66, 0.04, 74.89, 0.05),
    'flat/seres50_flat_oi': (71.22, 0.1, 74.49, 0.08),
    'hier/seres50_s2s_linear_oi': (72.05, 0.04, 75.33, 0.08),
    'hier/seres50_s2s_alt_linear_oi': (69.52, 0.11, 72.45, 0.14),
    'hier/seres50_s2s_conv_oi': (70.49, 0.15, 73.65, 0.14),
    'hier/seres50_s2s_alt_conv_oi': (70.35, 0.09, 73.51, 0.06),
    'hier/seres50_s2s_pool_oi': (71.79, 0.15, 75.12, 0.16),
    'hier/seres50_s2s_alt_pool_oi': (71.42, 0.05, 74.73, 0.04),
    'hier/seres50_s2s_pool_large_oi': (71.75, 0.09, 75.07, 0.04),
    'hier/seres50_s2s_alt_pool_large_oi': (71.07, 0.13, 74.27, 0.18),
    'flat/cbamres50_flat_oi': (71.17, 0.09, 74.42, 0.04),
    'hier/cbamres50_s2s_linear_oi': (71.71, 0.19, 74.98, 0.19),
    'hier/cbamres50_s2s_alt_linear_oi': (66.44, 0.43, 68.84, 0.53),
    'hier/cbamres50_s2s_conv_oi': (70.24, 0.07, 73.43, 0.05),
    'hier/cbamres50_s2s_alt_conv_oi': (72.88, 0.09, 69.82, 0.07),
    'hier/cbamres50_s2s_pool_oi': (71.53, 0.12, 74.82, 0.1),
    'hier/cbamres50_s2s_alt_pool_oi': (71.29, 0.18, 74.55, 0.11),
    'hier/cbamres50_s2s_pool_large_oi': (71.57, 0.07, 74.89, 0.07),
    'hier/cbamres50_s2s_alt_pool_large_oi': (71.32, 0.05, 74.55, 0.01),
}
# The DHNN paper's Tables 1 (fixed path length) and 2 (general tree) on its
# proprietary data: table -> (path accuracy, node accuracy), in percent.
PAPER_TABLES12 = {
    'flat/vgg16_flat_custom': {
        1: (64.0, 71.3),
        2: (72.8, 87.2)
    },
    'hier/vgg16_rnn_custom': {
        1: (59.9, 77.3)
    },
    'hier/vgg16_rnn_alt_custom': {
        1: (61.7, 78.1)
    },
    'hier/vgg16_rnn_alt_resi_custom': {
        1: (65.3, 80.5)
    },
    'hier/vgg16_s2s_custom': {
        2: (73.7, 88.1)
    },
    'hier/vgg16_s2s_alt_custom': {
        2: (72.3, 87.2)
    },
    'flat/res50_flat_custom': {
        1: (62.1, 68.8),
        2: (71.5, 86.4)
    },
    'hier/res50_rnn_custom': {
        1: (63.4, 78.9)
    },
    'hier/res50_rnn_alt_custom': {
        1: (62.4, 77.0)
    },
    'hier/res50_rnn_alt_resi_custom': {
        1: (64.0, 78.4)
    },
    'hier/res50_s2s_custom': {
        2: (74.1, 88.0)
    },
    'hier/res50_s2s_alt_custom': {
        2: (68.3, 85.0)
    },
}
# Guo et al., Table 2 (CIFAR-100, standard augmentation): coarse / fine
# accuracy of the paper's CNN (its ref. [25]), see configs/guo_cnn_rnn.
GUO_TABLE2 = {
    'cnn-rnn': (83.21, 72.26),
    'coarse-to-fine': (78.10, 64.16),
    'fine-to-coarse': (78.16, 65.56),
    'fine-and-coarse': (77.56, 64.87),
}
