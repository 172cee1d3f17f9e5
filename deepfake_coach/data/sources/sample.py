"""The empty dataset skeleton, for people who will fill it by hand."""

from __future__ import annotations

from pathlib import Path

from deepfake_coach.data.layout import CLASSES, SPLITS, expected_tree
from deepfake_coach.fsutil import atomic_write_text

README_NAME = "README.txt"


def skeleton_readme(data_dir: Path) -> str:
    return f"""Put your face images in these folders, then check them with: dfcoach data check

{expected_tree(data_dir)}

- real/ holds photos of real faces; fake/ holds generated or manipulated ones.
- train/ is what the model learns from (about 70% of your images), val/ is what
  it is tuned on while training (20%), test/ is kept aside to judge it (10%).
- Aim for at least 500 images per class in train/ (thousands are better), with
  about as many real as fake. JPEG or PNG, 128 pixels or more on a side.
- Never put the same picture in two folders: a model tested on pictures it
  trained on looks better than it is.

Easier: put all real images in one real/ folder and all fake ones in one fake/
folder anywhere, and let dfcoach split them: dfcoach data organize THAT_FOLDER
"""


def create_skeleton(data_dir: Path) -> list[Path]:
    """Create the missing split/class folders and the README; never touches existing files."""
    created = []
    for split in SPLITS:
        for label in CLASSES:
            folder = data_dir / split / label
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                created.append(folder)
    readme = data_dir / README_NAME
    if not readme.exists():
        atomic_write_text(readme, skeleton_readme(data_dir))
        created.append(readme)
    return created

