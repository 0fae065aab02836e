# CBAM-Res-S2S-Alt-Conv of the DHNN paper's Table 3: CBAM-Res-S2S-Conv
# (cbamres50_s2s_conv_oi.py) with alternating training (section 4.1). Paper:
# path F1 72.88 (0.09), node F1 69.82 (0.07), mean (sd) of 3 runs.
_base_ = ['./cbamres50_s2s_conv_oi.py', '../_base_/schedules/alternating.py']
