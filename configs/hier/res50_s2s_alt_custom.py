# Res-S2S-Alt of the DHNN paper's Table 2: Res-S2S (res50_s2s_custom.py) with
# alternating training (section 4.1). Paper, on its proprietary data: path
# accuracy 68.3, node accuracy 85.0.
_base_ = ['./res50_s2s_custom.py', '../_base_/schedules/alternating.py']
