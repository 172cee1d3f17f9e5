"""`dfcoach evaluate` and `dfcoach predict` after a quick run on the demo: what the test set says, and how fast.

    python benchmarks/evaluate_demo.py [--seed 0] [--images-per-class 500] [--predict-images 1000]

Trains the quick run (as `dfcoach train --quick`), evaluates the best model on the demo's test split
(metrics, per artifact kind, the three pictures and report.json), then times `predict` on a folder of
demo pictures.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from deepfake_coach.config import TrainConfig
from deepfake_coach.data.sources import tiny_demo
from deepfake_coach.evaluate import evaluate
from deepfake_coach.inference import Detector
from deepfake_coach.predict import predict
from deepfake_coach.train.loop import fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images-per-class", type=int, default=500)
    parser.add_argument("--predict-images", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        tiny_demo.generate(project / "dataset", args.images_per_class, seed=args.seed)
        result = fit(TrainConfig.quick(), project / "dataset", project)
        detector = Detector.load(result.run.best_path)

        started = time.perf_counter()
        report = evaluate(detector, project / "dataset", "test", run_dir=result.run.run_dir)
        seconds = time.perf_counter() - started
        images = sum(report.counts.values())
        m = report.metrics
        print(f"quick run: best val acc {result.best.val_acc:.1%}; test split of {images} images "
              f"({report.counts['real']} real, {report.counts['fake']} fake)")
        print(f"  accuracy {m['accuracy']:.1%}  precision {m['precision']:.1%}  recall {m['recall']:.1%}  "
              f"F1 {m['f1']:.1%}  ROC AUC {m['roc_auc']:.3f}")
        print(f"  {report.summary}")
        for kind, row in (report.per_kind or {}).items():
            print(f"  {kind:20s} {row['right']:4d} / {row['images']:4d}  {row['accuracy']:6.1%}")
        print(f"evaluate (judging, metrics, 3 pictures, report.json): {seconds:.2f} s for {images} images")

        pictures = sorted((project / "dataset").glob("*/*/*.jpg"))[: args.predict_images]
        folder = project / "to_predict"
        folder.mkdir()
        for picture in pictures:
            shutil.copy(picture, folder / f"{picture.parent.parent.name}_{picture.name}")
        started = time.perf_counter()
        predictions = predict(detector, [folder])
        seconds = time.perf_counter() - started
        n = len(predictions.verdicts)
        print(f"predict: {n} pictures ({detector.image_size} px model) in {seconds:.2f} s = {n / seconds:.0f} pictures/s")


if __name__ == "__main__":
    main()
