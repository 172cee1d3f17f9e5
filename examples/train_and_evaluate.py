"""The whole journey from Python, without the command line: organize, train, evaluate.

    python examples/train_and_evaluate.py MY_IMAGES [--epochs 5] [--image-size 128]

MY_IMAGES holds real/ and fake/ folders. The script splits them into
dataset/{train,val,test}/{real,fake}, trains the default model (a quick run),
and measures the best model on the test images. Everything is written in the
current folder, as the `dfcoach` commands would.
"""

import argparse
import sys
from pathlib import Path

from deepfake_coach.config import TrainConfig
from deepfake_coach.data.organize import organize
from deepfake_coach.errors import CoachError
from deepfake_coach.evaluate import evaluate
from deepfake_coach.inference import Detector
from deepfake_coach.train.loop import fit


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", type=Path, help="a folder with real/ and fake/ inside")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--image-size", type=int, default=None, help="default: the model's own size")
    args = parser.parse_args()
    data_dir = Path("dataset")
    try:
        organized = organize(args.images, data_dir, split=(0.7, 0.2, 0.1), seed=0, replace=True)
        print(f"organized {organized.total} images into {data_dir}/")
        result = fit(TrainConfig.quick(epochs=args.epochs, image_size=args.image_size), data_dir)
        print(f"best validation accuracy {result.best.val_acc:.1%} at epoch {result.best.epoch}; model: {result.run.best_path}")
        report = evaluate(Detector.load(result.run.best_path), data_dir, split="test")
    except CoachError as error:  # every expected failure carries a message and a fix
        print(f"{error.message}\n{error.hint or ''}", file=sys.stderr)
        return error.exit_code
    print(f"test accuracy {report.metrics['accuracy']:.1%}, ROC AUC {report.metrics['roc_auc']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
