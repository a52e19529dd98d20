"""Training: memory, step time, MFU, time to train and the cluster for a training run."""
