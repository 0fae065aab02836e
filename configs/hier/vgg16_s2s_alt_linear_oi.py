# VGG-S2S-Alt-Linear of the DHNN paper's Table 3: VGG-S2S-Linear
# (vgg16_s2s_linear_oi.py) with alternating training (section 4.1). Paper: path
# F1 70.76 (0.06), node F1 73.97 (0.15), mean (sd) of 3 runs.
_base_ = ['./vgg16_s2s_linear_oi.py', '../_base_/schedules/alternating.py']
