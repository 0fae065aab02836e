# CIFAR-100 as a two-level tree: the 20 superclasses of the data set (level
# 1, in coarse-label order) over its 100 classes (level 2, each under its
# superclass in fine-label order). This is the tree HierCIFAR100 builds from
# the data's coarse and fine labels; it is spelled out here because the
# heads need it when the model is built, before any data is read, and the
# datasets get the same tree so that node indices agree everywhere.
#
# The data root holds mmpretrain's `cifar-100-python/` (downloaded there
# when missing). The test split serves as validation set too.
#
# Heads read the same tree: `head=dict(tree={{_base_.class_tree}})`.
data_root = '{{$CIFAR100_DIR:data/cifar100}}'
class_tree = {
    'aquatic_mammals': ['beaver', 'dolphin', 'otter', 'seal', 'whale'],
    'fish': ['aquarium_fish', 'flatfish', 'ray', 'shark', 'trout'],
    'flowers': ['orchid', 'poppy', 'rose', 'sunflower', 'tulip'],
    'food_containers': ['bottle', 'bowl', 'can', 'cup', 'plate'],
    'fruit_and_vegetables':
    ['apple', 'mushroom', 'orange', 'pear', 'sweet_pepper'],
    'household_electrical_devices':
    ['clock', 'keyboard', 'lamp', 'telephone', 'television'],
    'household_furniture': ['bed', 'chair', 'couch', 'table', 'wardrobe'],
    'insects': ['bee', 'beetle', 'butterfly', 'caterpillar', 'cockroach'],
    'large_carnivores': ['bear', 'leopard', 'lion', 'tiger', 'wolf'],
    'large_man-made_outdoor_things':
    ['bridge', 'castle', 'house', 'road', 'skyscraper'],
    'large_natural_outdoor_scenes':
    ['cloud', 'forest', 'mountain', 'plain', 'sea'],
    'large_omnivores_and_herbivores':
    ['camel', 'cattle', 'chimpanzee', 'elephant', 'kangaroo'],
    'medium_mammals': ['fox', 'porcupine', 'possum', 'raccoon', 'skunk'],
    'non-insect_invertebrates': ['crab', 'lobster', 'snail', 'spider', 'worm'],
    'people': ['baby', 'boy', 'girl', 'man', 'woman'],
    'reptiles': ['crocodile', 'dinosaur', 'lizard', 'snake', 'turtle'],
    'small_mammals': ['hamster', 'mouse', 'rabbit', 'shrew', 'squirrel'],
    'trees':
    ['maple_tree', 'oak_tree', 'palm_tree', 'pine_tree', 'willow_tree'],
    'vehicles_1': ['bicycle', 'bus', 'motorcycle', 'pickup_truck', 'train'],
    'vehicles_2': ['lawn_mower', 'rocket', 'streetcar', 'tank', 'tractor'],
}
num_nodes = 120  # N, for flat baselines over all tree nodes

dataset_type = 'HierCIFAR100'
# mmpretrain's ClsDataPreprocessor that also batches gt_path once a step,
# on the device, for the hierarchical heads (flat heads ignore it)
data_preprocessor = dict(
    type='HierDataPreprocessor',
    mean=[129.304, 124.070, 112.434],
    std=[68.170, 65.392, 70.418],
    to_rgb=False)  # the images are loaded as RGB

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackHierInputs'),
]
test_pipeline = [dict(type='PackHierInputs')]

train_dataloader = dict(
    batch_size=128,
    num_workers=0,  # images are in memory
    persistent_workers=False,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        tree=class_tree,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        tree=class_tree,
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='HierAccuracy'),
    dict(type='HierF1'),
    dict(type='MistakeSeverity', topk=(1, 5)),
]
test_evaluator = val_evaluator
