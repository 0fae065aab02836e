# Res-S2S-Alt-Pool-L of the DHNN paper's Table 3: Res-S2S-Pool-L
# (res50_s2s_pool_large_oi.py) with alternating training (section 4.1). Paper:
# path F1 71.66 (0.04), node F1 74.89 (0.05), mean (sd) of 3 runs.
_base_ = ['./res50_s2s_pool_large_oi.py', '../_base_/schedules/alternating.py']
