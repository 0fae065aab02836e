# CBAM-Res-S2S-Alt-Pool-L of the DHNN paper's Table 3: CBAM-Res-S2S-Pool-L
# (cbamres50_s2s_pool_large_oi.py) with alternating training (section 4.1).
# Paper: path F1 71.32 (0.05), node F1 74.55 (0.01), mean (sd) of 3 runs.
_base_ = [
    './cbamres50_s2s_pool_large_oi.py', '../_base_/schedules/alternating.py'
]
