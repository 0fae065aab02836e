# Res-S2S-Alt-Conv of the DHNN paper's Table 3: Res-S2S-Conv
# (res50_s2s_conv_oi.py) with alternating training (section 4.1). Paper: path
# F1 70.75 (0.15), node F1 73.98 (0.18), mean (sd) of 3 runs.
_base_ = ['./res50_s2s_conv_oi.py', '../_base_/schedules/alternating.py']
