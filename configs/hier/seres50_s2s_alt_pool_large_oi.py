# SE-Res-S2S-Alt-Pool-L of the DHNN paper's Table 3: SE-Res-S2S-Pool-L
# (seres50_s2s_pool_large_oi.py) with alternating training (section 4.1).
# Paper: path F1 71.07 (0.13), node F1 74.27 (0.18), mean (sd) of 3 runs.
_base_ = [
    './seres50_s2s_pool_large_oi.py', '../_base_/schedules/alternating.py'
]
