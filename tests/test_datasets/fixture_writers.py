# Copyright (c) mmhier contributors. All rights reserved.
"""Small fixtures in the real binary formats (written at test time)."""
import gzip
import os
import os.path as osp
import pickle
import struct

import numpy as np

CIFAR_FINE = ['apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed']
CIFAR_COARSE = [
    'fruit_and_vegetables', 'fish', 'people', 'large_carnivores',
    'aquatic_mammals', 'household_furniture'
]
# The official superclass of each fine class above.
CIFAR_PARENT = [0, 1, 2, 3, 4, 5]


def write_idx(path: str, array: np.ndarray) -> None:
    """An idx file as on the Fashion-MNIST site: big-endian magic
    0x0000_08_NN (ubyte, NN dims), the dims, then the bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    head = struct.pack('>I', 0x0800 | array.ndim)
    head += b''.join(struct.pack('>I', d) for d in array.shape)
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'wb') as f:
        f.write(head + array.tobytes())


def write_fashion_mnist(root: str, gz: bool = True, train_labels=None):
    """20 train images (each class twice) and 10 test images (labels 9..0).

    Returns:
        dict: split -> (images, labels).
    """
    rng = np.random.default_rng(0)
    ext = '.gz' if gz else ''
    train_labels = np.array(
        train_labels if train_labels is not None else list(range(10)) * 2)
    data = {}
    for split, labels in (('train', train_labels), ('t10k',
                                                    np.arange(10)[::-1])):
        imgs = rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8)
        write_idx(osp.join(root, f'{split}-images-idx3-ubyte{ext}'), imgs)
        write_idx(osp.join(root, f'{split}-labels-idx1-ubyte{ext}'), labels)
        data[split] = (imgs, labels)
    return data


def write_cifar100(root: str,
                   fine_train,
                   coarse_train,
                   fine_test=None,
                   coarse_test=None,
                   coarse_names=CIFAR_COARSE) -> dict:
    """The official python format: cifar-100-python/{train,test,meta},
    pickled dicts with 'data' (N x 3072 uint8, channel-major rows),
    'fine_labels', 'coarse_labels', 'filenames', 'batch_label'; meta with
    'fine_label_names' and 'coarse_label_names'.

    Returns:
        dict: split -> data rows.
    """
    folder = osp.join(root, 'cifar-100-python')
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    fine_test = fine_train if fine_test is None else fine_test
    coarse_test = coarse_train if coarse_test is None else coarse_test
    out = {}
    for split, fine, coarse in (('train', fine_train, coarse_train),
                                ('test', fine_test, coarse_test)):
        data = rng.integers(0, 256, (len(fine), 3072), dtype=np.uint8)
        entry = {
            'filenames': [f'img_{i}.png' for i in range(len(fine))],
            'batch_label': f'{split}ing batch 1 of 1',
            'fine_labels': list(fine),
            'coarse_labels': list(coarse),
            'data': data
        }
        with open(osp.join(folder, split), 'wb') as f:
            pickle.dump(entry, f, protocol=2)
        out[split] = data
    with open(osp.join(folder, 'meta'), 'wb') as f:
        pickle.dump(
            {
                'fine_label_names': CIFAR_FINE,
                'coarse_label_names': coarse_names
            },
            f,
            protocol=2)
    return out
