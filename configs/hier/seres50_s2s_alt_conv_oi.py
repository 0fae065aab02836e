# SE-Res-S2S-Alt-Conv of the DHNN paper's Table 3: SE-Res-S2S-Conv
# (seres50_s2s_conv_oi.py) with alternating training (section 4.1). Paper: path
# F1 70.35 (0.09), node F1 73.51 (0.06), mean (sd) of 3 runs.
_base_ = ['./seres50_s2s_conv_oi.py', '../_base_/schedules/alternating.py']
