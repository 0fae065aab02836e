# VGG-S2S-Alt of the DHNN paper's Table 2: VGG-S2S (vgg16_s2s_custom.py) with
# alternating training (section 4.1). Paper, on its proprietary data: path
# accuracy 72.3, node accuracy 87.2.
_base_ = ['./vgg16_s2s_custom.py', '../_base_/schedules/alternating.py']
