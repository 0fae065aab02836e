# Fashion-MNIST with the fixed-depth WordNet tree: every class a leaf at
# depth 3 (clothing / footwear / container -> garment, woman's clothing,
# shoe, boot, bag -> the 10 classes; 18 nodes), for the fixed path length
# CNN-RNN. Everything else as in fashion_mnist_hier.py.
_base_ = ['./fashion_mnist_hier.py']

class_tree = ('{{fileDirname}}/../../../mmhier/datasets/trees/'
              'fashion_mnist_fixed.json')
num_nodes = 18

train_dataloader = dict(dataset=dict(tree=class_tree))
val_dataloader = dict(dataset=dict(tree=class_tree))
test_dataloader = val_dataloader
