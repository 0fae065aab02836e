# SE-Res-S2S-Alt-Pool of the DHNN paper's Table 3: SE-Res-S2S-Pool
# (seres50_s2s_pool_oi.py) with alternating training (section 4.1). Paper: path
# F1 71.42 (0.05), node F1 74.73 (0.04), mean (sd) of 3 runs.
_base_ = ['./seres50_s2s_pool_oi.py', '../_base_/schedules/alternating.py']
