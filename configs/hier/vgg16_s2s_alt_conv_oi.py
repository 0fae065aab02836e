# VGG-S2S-Alt-Conv of the DHNN paper's Table 3: VGG-S2S-Conv
# (vgg16_s2s_conv_oi.py) with alternating training (section 4.1). Paper: path
# F1 70.70 (0.14), node F1 73.95 (0.06), mean (sd) of 3 runs.
_base_ = ['./vgg16_s2s_conv_oi.py', '../_base_/schedules/alternating.py']
