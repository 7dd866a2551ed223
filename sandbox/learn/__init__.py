"""Small networks and how they are trained: MLP denoisers and noisy classifiers (``models``), the one training
loop for every objective (``training``), checkpoints and cached training runs (``checkpoints``)."""
