# The joint model of joint-rnn-pool-resi_resnet18-tiny_fmnist-fixed.py with
# coarse-constrained pseudo-labels (ours, after Guo et al. section 4.2): a
# coarsely labelled image (`a/b/*`) whose fused prediction within the
# subtree of `b` is at least 95% sure also trains both experts on that
# completed path, with a weight that ramps up from 0 at step 200 to 1 at
# step 400 (of about 565 in the 6-epoch benchmark budget). Identical to the
# joint model when every label is full.
_base_ = ['./joint-rnn-pool-resi_resnet18-tiny_fmnist-fixed.py']

model = dict(
    head=dict(
        pseudo_label_weight=1.0,
        pseudo_label_threshold=0.95,
        pseudo_label_warmup=(200, 400)))
