# DHNN CNN-S2S with the paper's decoder (section 3.2: the decoder reads its
# own previous softmax output, free-running in training and inference);
# otherwise as s2s-pool_resnet18-tiny_fmnist.py, whose decoder reads the
# embedding of the previous ground-truth node (teacher forcing).
_base_ = ['./s2s-pool_resnet18-tiny_fmnist.py']

model = dict(head=dict(decoder_input='softmax'))
