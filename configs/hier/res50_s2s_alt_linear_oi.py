# Res-S2S-Alt-Linear of the DHNN paper's Table 3: Res-S2S-Linear
# (res50_s2s_linear_oi.py) with alternating training (section 4.1). Paper: path
# F1 70.78 (0.09), node F1 73.80 (0.14), mean (sd) of 3 runs.
_base_ = ['./res50_s2s_linear_oi.py', '../_base_/schedules/alternating.py']
