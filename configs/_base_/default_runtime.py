# mmhier runtime defaults: mmpretrain's registries plus the mmhier plugin.
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmhier'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # keep the last checkpoints so that an interrupted run resumes
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
    # mmhier: the model's class tree must be the dataset's (names, order,
    # parents), checked before training, validation and testing
    tree_check=dict(type='HierTreeCheckHook'),
    # mmhier: name the split of each dataset in messages about unreadable
    # images, and sum the skipped ones up after every epoch
    bad_images=dict(type='HierBadImageHook'),
    # mmhier, multi-label: keep the threshold validated on a checkpoint's
    # weights in that checkpoint (a no-op without threshold metrics)
    hier_threshold=dict(type='HierThresholdHook'),
    # mmhier: reseed random, numpy and torch from (seed, epoch) before every
    # epoch, so that a run resumed after a crash replays the interrupted
    # epoch with the same random numbers (mmengine does not checkpoint
    # them): the resumed weights equal an uninterrupted run's
    epoch_seed=dict(type='HierEpochSeedHook'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; on a machine without CUDA mmhier switches to gloo.
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
