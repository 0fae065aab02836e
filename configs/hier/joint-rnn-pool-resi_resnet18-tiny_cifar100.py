# Joint model (ours) on CIFAR-100 and its two-level tree: the CNN-RNN with
# residual arcs of rnn-pool-resi_resnet18-tiny_cifar100.py and a flat
# classifier over the 100 classes, trained together and fused at test time
# (HierJointHead; see joint-rnn-pool-resi_resnet18-tiny_fmnist-fixed.py).
_base_ = ['./rnn-pool-resi_resnet18-tiny_cifar100.py']

model = dict(
    head=dict(
        _delete_=True,
        type='HierJointHead',
        tree={{_base_.class_tree}},
        hier_head=dict(
            type='HierRNNHead',
            in_channels=128,  # p
            hidden_size=128,  # h
            num_layers=3,
            bidirectional=True,
            residual=True),
        beam_size=5))
