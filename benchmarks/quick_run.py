"""`dfcoach train --quick` on the demo dataset: how long it takes and how well it learns.

    python benchmarks/quick_run.py [--model noise_cnn] [--seed 0] [--image-size N]

Target (issue: the training coach): under 60 s on this 2-core CPU, with
validation accuracy above 85%.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from deepfake_coach.config import TrainConfig
from deepfake_coach.data.sources import tiny_demo
from deepfake_coach.train.loop import fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=TrainConfig().model, help="default: dfcoach's default model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        tiny_demo.generate(project / "dataset", seed=args.seed)
        started = time.perf_counter()
        result = fit(TrainConfig.quick(model=args.model, image_size=args.image_size), project / "dataset", project)
        total = time.perf_counter() - started
    print(f"model {args.model}, {result.run.image_size} px, batch {result.batch_size}, {result.run.train_images} train images")
    for m in result.history:
        print(f"  epoch {m.epoch}: train acc {m.train_acc:6.1%}  val acc {m.val_acc:6.1%}  {m.seconds:5.1f} s  "
              f"({result.run.train_images / m.seconds:.0f} train images/s incl. validation)")
    best = result.best
    print(f"quick run: {total:.1f} s (target < 60 s: {'met' if total < 60 else 'MISSED'}), "
          f"best val acc {best.val_acc:.1%} at epoch {best.epoch} (target > 85%: {'met' if best.val_acc > 0.85 else 'MISSED'})")


if __name__ == "__main__":
    main()
