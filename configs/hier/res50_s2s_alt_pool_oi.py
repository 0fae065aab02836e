# Res-S2S-Alt-Pool of the DHNN paper's Table 3: Res-S2S-Pool
# (res50_s2s_pool_oi.py) with alternating training (section 4.1). Paper: path
# F1 71.70 (0.06), node F1 74.97 (0.09), mean (sd) of 3 runs.
_base_ = ['./res50_s2s_pool_oi.py', '../_base_/schedules/alternating.py']
