"""Training: the model registry and the coaching rules (the training loop and `dfcoach train` build on these)."""
