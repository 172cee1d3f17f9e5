"""Using dfcoach from Python, without the command line.

    python examples/organize_and_check.py MY_IMAGES dataset

MY_IMAGES holds real/ and fake/ folders. The script splits them into
dataset/{train,val,test}/{real,fake}, then checks the result and prints what
`dfcoach data check --json` would.
"""

import json
import sys
from pathlib import Path

from deepfake_coach.data.checks import check_dataset
from deepfake_coach.data.organize import organize
from deepfake_coach.errors import CoachError


def main(source: Path, data_dir: Path) -> int:
    try:
        result = organize(source, data_dir, split=(0.8, 0.1, 0.1), seed=42)
    except CoachError as error:  # every expected failure carries a message and a fix
        print(f"{error.message}\n{error.hint}", file=sys.stderr)
        return error.exit_code
    print(f"organized {result.total} images, skipped {len(result.skipped)}", file=sys.stderr)
    report = check_dataset(data_dir)
    print(json.dumps(report.to_dict(), indent=2))
    return 0 if report.fit_to_train else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
