# SE-Res-S2S-Alt-Linear of the DHNN paper's Table 3: SE-Res-S2S-Linear
# (seres50_s2s_linear_oi.py) with alternating training (section 4.1). Paper:
# path F1 69.52 (0.11), node F1 72.45 (0.14), mean (sd) of 3 runs.
_base_ = ['./seres50_s2s_linear_oi.py', '../_base_/schedules/alternating.py']
