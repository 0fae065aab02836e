# CBAM-Res-S2S-Alt-Pool of the DHNN paper's Table 3: CBAM-Res-S2S-Pool
# (cbamres50_s2s_pool_oi.py) with alternating training (section 4.1). Paper:
# path F1 71.29 (0.18), node F1 74.55 (0.11), mean (sd) of 3 runs.
_base_ = ['./cbamres50_s2s_pool_oi.py', '../_base_/schedules/alternating.py']
