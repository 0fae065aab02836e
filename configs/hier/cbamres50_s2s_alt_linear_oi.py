# CBAM-Res-S2S-Alt-Linear of the DHNN paper's Table 3: CBAM-Res-S2S-Linear
# (cbamres50_s2s_linear_oi.py) with alternating training (section 4.1). Paper:
# path F1 66.44 (0.43), node F1 68.84 (0.53), mean (sd) of 3 runs.
_base_ = ['./cbamres50_s2s_linear_oi.py', '../_base_/schedules/alternating.py']
