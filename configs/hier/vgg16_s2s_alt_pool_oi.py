# VGG-S2S-Alt-Pool of the DHNN paper's Table 3: VGG-S2S-Pool
# (vgg16_s2s_pool_oi.py) with alternating training (section 4.1). Paper: path
# F1 71.49 (0.10), node F1 74.84 (0.07), mean (sd) of 3 runs.
_base_ = ['./vgg16_s2s_pool_oi.py', '../_base_/schedules/alternating.py']
