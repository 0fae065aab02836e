# VGG-S2S-Alt-Pool-L of the DHNN paper's Table 3: VGG-S2S-Pool-L
# (vgg16_s2s_pool_large_oi.py) with alternating training (section 4.1). Paper:
# path F1 71.26 (0.13), node F1 74.58 (0.17), mean (sd) of 3 runs.
_base_ = ['./vgg16_s2s_pool_large_oi.py', '../_base_/schedules/alternating.py']
