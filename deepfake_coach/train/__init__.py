"""Training building blocks: the model registry, the decoded-image cache, self-describing
checkpoints and the coaching rules. The training loop and `dfcoach train` build on these."""
