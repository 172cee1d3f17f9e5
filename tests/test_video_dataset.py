"""Videos into a face dataset: `dfcoach data organize SRC --videos` and `dfcoach data download faceforensics`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from PIL import Image

from video_files import FACE_SEEDS, make_faceforensics_tree, write_face_video, write_no_face_video, write_splits
from deepfake_coach.data.sources import faceforensics
from deepfake_coach.data.video_dataset import SourceVideo, assign_splits, frames_per_video

SPLITS = ("train", "val", "test")


def read_index(dataset: Path) -> list[dict]:
    with open(dataset / "videos.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def splits_of_videos(dataset: Path) -> dict[str, set[str]]:
    """video id -> the splits its frames are in (one, when nothing leaks)."""
    found: dict[str, set[str]] = {}
    for row in read_index(dataset):
        found.setdefault(row["video_id"], set()).add(row["file"].split("/")[0])
    return found


def pictures(dataset: Path) -> list[Path]:
    return sorted(p for split in SPLITS for p in (dataset / split).rglob("*.jpg"))


def make_video_folder(root: Path, real: int = 5, fake: int = 5, frames: int = 4) -> Path:
    seeds = iter(FACE_SEEDS)
    for i in range(real):
        write_face_video(root / "real" / f"real_{i}.mp4", next(seeds), frames)
    for i in range(fake):
        write_face_video(root / "fake" / f"fake_{i}.mp4", next(seeds), frames)
    return root


# --- a folder of videos --------------------------------------------------------------------------


def test_videos_become_face_pictures_named_by_video_and_frame(cli, tmp_path):
    src = make_video_folder(tmp_path / "clips")
    dataset = tmp_path / "dataset"
    result = cli("data", "organize", src, "--videos", "--frames", 3, "--data-dir", dataset)
    assert result.exit_code == 0, result.output
    assert "Cut 30 face pictures from 10 of 10 videos" in result.stderr
    # progress over videos and over frames (plain lines, as in a log)
    assert "Videos (10 videos)..." in result.stderr and "Frames (30 frames)..." in result.stderr
    assert "Frames: done, 30 frames" in result.stderr
    files = pictures(dataset)
    assert len(files) == 30
    for path in files:
        with Image.open(path) as image:
            assert image.format == "JPEG" and image.size == (256, 256)
    # <split>/<class>/<video-id>_<frame>.jpg, and videos.csv says which video and frame each picture is
    rows = read_index(dataset)
    assert len(rows) == 30
    for row in rows:
        split, label, name = row["file"].split("/")
        assert split in SPLITS and label in ("real", "fake")
        assert name == f"{row['video_id']}_{int(row['frame']):04d}.jpg"
        assert row["video_id"].startswith(label)
        assert (dataset / row["file"]).is_file()
    assert {int(row["frame"]) for row in rows} == {0, 2, 3}  # 3 of 4 frames, evenly spaced
    # every split gets both classes, and no video is in two splits
    assert all(len(splits) == 1 for splits in splits_of_videos(dataset).values())
    for split in SPLITS:
        for label in ("real", "fake"):
            assert any((dataset / split / label).iterdir()), f"{split}/{label} is empty"
    assert "Dataset statistics" in result.stdout
    assert "videos.csv" not in result.stdout  # the check does not call our index a stray file


def test_clips_in_one_subfolder_stay_in_one_split(cli, tmp_path):
    src = tmp_path / "clips"
    seeds = iter(FACE_SEEDS)
    for person in range(4):
        for clip in range(3):
            write_face_video(src / "real" / f"person_{person}" / f"clip_{clip}.mp4", next(seeds), 2)
    for i in range(4):
        write_face_video(src / "fake" / f"fake_{i}.mp4", next(seeds), 2)
    dataset = tmp_path / "dataset"
    assert cli("data", "organize", src, "--videos", "--frames", 2, "--data-dir", dataset).exit_code == 0
    found = splits_of_videos(dataset)
    for person in range(4):
        splits = set().union(*(found[f"person_{person}__clip_{clip}"] for clip in range(3)))
        assert len(splits) == 1, f"person_{person}'s clips are split across {splits}"


def test_a_folder_split_already_keeps_its_splits(cli, tmp_path):
    src = tmp_path / "clips"
    seeds = iter(FACE_SEEDS)
    for split, count in (("train", 3), ("valid", 1), ("test", 1)):
        for label in ("real", "fake"):
            for i in range(count):
                write_face_video(src / split / label / f"{split}_{label}_{i}.mp4", next(seeds), 2)
    dataset = tmp_path / "dataset"
    result = cli("data", "organize", src, "--videos", "--frames", 2, "--data-dir", dataset)
    assert result.exit_code == 0, result.output
    for video_id, splits in splits_of_videos(dataset).items():
        assert splits == {video_id.split("_")[0].replace("valid", "val")}
    assert "your folder's own train/val/test split" in result.stderr


def test_the_class_with_more_videos_gives_fewer_frames_per_video(cli, tmp_path):
    src = make_video_folder(tmp_path / "clips", real=3, fake=6, frames=4)
    dataset = tmp_path / "dataset"
    result = cli("data", "organize", src, "--videos", "--frames", 4, "--data-dir", dataset)
    assert result.exit_code == 0, result.output
    per_video: dict[str, int] = {}
    for row in read_index(dataset):
        per_video[row["video_id"]] = per_video.get(row["video_id"], 0) + 1
    assert {n for v, n in per_video.items() if v.startswith("real")} == {4}
    assert {n for v, n in per_video.items() if v.startswith("fake")} == {2}
    assert "4 frames from each real video and 2 from each fake one" in result.stderr
    # --no-balance takes as many from every video
    assert cli("data", "organize", src, "--videos", "--frames", 4, "--no-balance", "--data-dir", tmp_path / "all").exit_code == 0
    assert len(read_index(tmp_path / "all")) == 36


def test_frames_per_video_rule():
    videos = [SourceVideo(Path(f"{i}"), "real", f"r{i}", f"r{i}") for i in range(10)]
    videos += [SourceVideo(Path(f"{i}"), "fake", f"f{i}", f"f{i}") for i in range(40)]
    assert frames_per_video(videos, 32) == {"real": 32, "fake": 8}
    assert frames_per_video(videos, 32, balance=False) == {"real": 32, "fake": 32}
    assert frames_per_video(videos, 2) == {"real": 2, "fake": 1}  # every video still gives one


def test_bad_videos_are_reported_and_the_rest_still_become_a_dataset(cli, tmp_path):
    src = make_video_folder(tmp_path / "clips", real=4, fake=4, frames=2)
    (src / "real" / "empty.mp4").write_bytes(b"")
    (src / "fake" / "broken.mp4").write_bytes(b"not a video at all" * 40)
    write_no_face_video(src / "fake" / "landscape.mp4")
    (src / "real" / "notes.txt").write_text("filmed in 2024")
    (src / "real" / "still.jpg").write_bytes(b"jpeg?")
    dataset = tmp_path / "dataset"
    result = cli("data", "organize", src, "--videos", "--frames", 2, "--data-dir", dataset)
    assert result.exit_code == 0, result.output
    assert "Cut 16 face pictures from 8 of 9 videos" in result.stderr
    assert "real/empty.mp4: the file is empty" in result.stderr
    assert "fake/broken.mp4: it is damaged, not a video" in result.stderr
    assert "fake/landscape.mp4: no face found in 2 frames" in result.stderr
    assert "real/notes.txt: not a video" in result.stderr
    assert "real/still.jpg: a picture, not a video (organize pictures without --videos)" in result.stderr
    assert "Traceback" not in result.output
    record = json.loads((dataset / ".dfcoach" / "organize.json").read_text())
    assert {item["file"] for item in record["skipped"]} >= {"real/empty.mp4", "fake/broken.mp4"}
    landscape = next(v for v in record["videos"] if v["file"] == "fake/landscape.mp4")
    assert landscape["frames_read"] == 2 and landscape["faces_found"] == 0
    assert not list(dataset.rglob("landscape*.jpg"))


def test_a_video_whose_name_is_too_long_with_its_folders_gets_a_shorter_id(cli, tmp_path):
    src = make_video_folder(tmp_path / "clips", real=3, fake=3, frames=2)
    folder, name = "f" * 200, "p" * 120 + ".mp4"
    write_face_video(src / "real" / folder / name, FACE_SEEDS[10], 2)
    dataset = tmp_path / "dataset"
    result = cli("data", "organize", src, "--videos", "--frames", 2, "--data-dir", dataset)
    assert result.exit_code == 0, result.output
    assert f"real/{folder}/{name}: its name, with the folders it is in, is too long for a file name" in result.stderr
    pictures_of_it = [row["file"] for row in read_index(dataset) if "ppp" in row["video_id"]]
    assert pictures_of_it and all((dataset / file).is_file() and len(Path(file).name) <= 255 for file in pictures_of_it)


def test_a_folder_with_no_videos(cli, tmp_path):
    src = tmp_path / "clips"
    (src / "real").mkdir(parents=True)
    (src / "fake").mkdir()
    (src / "real" / "readme.txt").write_text("videos go here")
    result = cli("data", "organize", src, "--videos", "--data-dir", tmp_path / "dataset")
    assert result.exit_code == 1
    assert "There are no videos in" in result.stderr
    assert "without --videos" in result.stderr
    assert not (tmp_path / "dataset").exists()


def test_videos_where_no_face_is_found_leave_no_dataset_behind(cli, tmp_path):
    src = tmp_path / "clips"
    for label in ("real", "fake"):
        for i in range(3):
            write_no_face_video(src / label / f"{label}_{i}.mp4", frames=2)
    result = cli("data", "organize", src, "--videos", "--data-dir", tmp_path / "dataset")
    assert result.exit_code == 1
    assert "No face was found in any of the 6 videos" in result.stderr
    assert not (tmp_path / "dataset").exists()


def test_too_few_videos_to_split(cli, tmp_path):
    src = make_video_folder(tmp_path / "clips", real=2, fake=4, frames=2)
    result = cli("data", "organize", src, "--videos", "--data-dir", tmp_path / "dataset")
    assert result.exit_code == 1
    assert "Too few real videos to split: 2" in result.stderr


def test_link_makes_no_sense_for_videos(cli, tmp_path):
    src = make_video_folder(tmp_path / "clips", real=3, fake=3, frames=2)
    result = cli("data", "organize", src, "--videos", "--link", "--data-dir", tmp_path / "dataset")
    assert result.exit_code == 2
    assert "--link does not go with --videos" in result.stderr


def test_an_existing_dataset_is_not_replaced_without_force(cli, tmp_path):
    src = make_video_folder(tmp_path / "clips", real=3, fake=3, frames=2)
    dataset = tmp_path / "dataset"
    (dataset / "train" / "real").mkdir(parents=True)
    (dataset / "train" / "real" / "mine.jpg").write_bytes(b"precious")
    result = cli("--no-input", "data", "organize", src, "--videos", "--data-dir", dataset)
    assert result.exit_code != 0 and "--force" in result.stderr
    assert (dataset / "train" / "real" / "mine.jpg").read_bytes() == b"precious"
    assert cli("data", "organize", src, "--videos", "--frames", 2, "--data-dir", dataset, "--force").exit_code == 0
    assert not (dataset / "train" / "real" / "mine.jpg").exists()


def test_a_faceforensics_tree_given_to_organize_points_to_the_right_command(cli, tmp_path):
    root = make_faceforensics_tree(tmp_path / "ff", [("000", "001")], methods=("Deepfakes",), frames=2)
    result = cli("data", "organize", root, "--videos", "--data-dir", tmp_path / "dataset")
    assert result.exit_code == 2
    assert f"dfcoach data download faceforensics --source {root}" in result.stderr


# --- FaceForensics++ ------------------------------------------------------------------------------

PAIRS = [("000", "001"), ("002", "003"), ("004", "005")]


def test_faceforensics_with_the_official_splits(cli, tmp_path):
    root = make_faceforensics_tree(tmp_path / "ff", PAIRS, frames=2)
    splits = write_splits(tmp_path / "splits", {"train": [PAIRS[2]], "val": [PAIRS[0]], "test": [PAIRS[1]]})
    dataset = tmp_path / "dataset"
    result = cli("data", "download", "faceforensics", "--source", root, "--official-splits", splits, "--frames", 2, "--data-dir", dataset)
    assert result.exit_code == 0, result.output
    found = splits_of_videos(dataset)
    expected = {"000": "val", "001": "val", "002": "test", "003": "test", "004": "train", "005": "train"}
    for video_id, split in expected.items():
        assert found[video_id] == {split}
    for method in ("Deepfakes", "Face2Face"):
        assert found[f"{method}_000_001"] == found[f"{method}_001_000"] == {"val"}
        assert found[f"{method}_004_005"] == {"train"}
    # 6 real videos x 2 frames, 12 fakes x 1 frame: balanced
    assert len(list((dataset).rglob("real/*.jpg"))) == 12 and len(list((dataset).rglob("fake/*.jpg"))) == 12
    assert (dataset / "val" / "fake" / "Deepfakes_000_001_0001.jpg").is_file()
    assert "the official FaceForensics++ splits" in result.stderr


def test_faceforensics_without_splits_keeps_each_identity_in_one_split(cli, tmp_path):
    pairs = PAIRS + [("006", "007")]
    root = make_faceforensics_tree(tmp_path / "download", pairs, methods=("FaceSwap",), frames=2)
    dataset = tmp_path / "dataset"
    result = cli("data", "download", "faceforensics", "--source", tmp_path / "download", "--methods", "faceswap",
                 "--frames", 2, "--data-dir", dataset)
    assert result.exit_code == 0, result.output
    found = splits_of_videos(dataset)
    for a, b in pairs:
        together = found[a] | found[b] | found[f"FaceSwap_{a}_{b}"] | found[f"FaceSwap_{b}_{a}"]
        assert len(together) == 1, f"people {a} and {b} are in {together}"
    assert {s for splits in found.values() for s in splits} == set(SPLITS)
    assert "identity" in result.stderr
    assert root == tmp_path / "download"


def test_only_the_chosen_methods_and_compression_are_used(cli, tmp_path):
    root = make_faceforensics_tree(tmp_path / "ff", PAIRS, methods=("Deepfakes", "NeuralTextures"), frames=2)
    make_faceforensics_tree(tmp_path / "ff", PAIRS, methods=("Deepfakes",), compression="c40", frames=2)
    dataset = tmp_path / "dataset"
    result = cli("data", "download", "faceforensics", "--source", root, "--methods", "NeuralTextures,Face2Face",
                 "--frames", 2, "--data-dir", dataset)
    assert result.exit_code == 0, result.output
    ids = set(splits_of_videos(dataset))
    assert {i.split("_")[0] for i in ids if "_" in i} == {"NeuralTextures"}
    assert "Face2Face: no c23 videos downloaded, left out." in result.stderr
    record = json.loads((dataset / ".dfcoach" / "organize.json").read_text())
    assert all("/c23/" in v["file"] for v in record["videos"])


def test_a_compression_that_was_not_downloaded_names_the_one_that_was(cli, tmp_path):
    root = make_faceforensics_tree(tmp_path / "ff", PAIRS[:1], methods=("Deepfakes",), compression="c40", frames=2)
    result = cli("data", "download", "faceforensics", "--source", root, "--data-dir", tmp_path / "dataset")
    assert result.exit_code == 1
    assert "There are no c23 original (real) videos" in result.stderr
    assert "Pass --compression c40" in result.stderr


def test_official_splits_that_would_empty_a_split_give_way_to_identity_splits(cli, tmp_path):
    # only the first few videos downloaded: the official splits put all of them in train
    root = make_faceforensics_tree(tmp_path / "ff", PAIRS, methods=("Deepfakes",), frames=2)
    write_splits(root / "splits", {"train": PAIRS, "val": [("100", "101")], "test": [("200", "201")]})
    dataset = tmp_path / "dataset"
    result = cli("data", "download", "faceforensics", "--source", root, "--frames", 2, "--data-dir", dataset)
    assert result.exit_code == 0, result.output
    assert "The official splits would leave val/real, val/fake, test/real, test/fake without videos" in result.stderr
    assert {s for splits in splits_of_videos(dataset).values() for s in splits} == set(SPLITS)


def test_faceforensics_needs_its_folder_and_says_how_to_get_it(cli, tmp_path):
    result = cli("data", "download", "faceforensics", "--data-dir", tmp_path / "dataset")
    assert result.exit_code == 2
    assert "--source" in result.stderr and "github.com/ondyari/FaceForensics" in result.stderr
    (tmp_path / "random").mkdir()
    result = cli("data", "download", "faceforensics", "--source", tmp_path / "random", "--data-dir", tmp_path / "dataset")
    assert result.exit_code == 1
    assert "does not look like FaceForensics++" in result.stderr


def test_unknown_method_and_compression_are_usage_errors(cli, tmp_path):
    root = make_faceforensics_tree(tmp_path / "ff", PAIRS[:1], methods=("Deepfakes",), frames=2)
    result = cli("data", "download", "faceforensics", "--source", root, "--methods", "Deepfakes,Magic", "--data-dir", tmp_path / "d")
    assert result.exit_code == 2 and "unknown method Magic" in result.stderr
    result = cli("data", "download", "faceforensics", "--source", root, "--compression", "c99", "--data-dir", tmp_path / "d")
    assert result.exit_code == 2 and "c23" in result.stderr


def test_a_damaged_splits_file_is_a_clear_error(cli, tmp_path):
    root = make_faceforensics_tree(tmp_path / "ff", PAIRS, methods=("Deepfakes",), frames=2)
    splits = write_splits(tmp_path / "splits", {"train": [PAIRS[0]], "val": [PAIRS[1]], "test": [PAIRS[2]]})
    (splits / "val.json").write_text("{not json")
    result = cli("data", "download", "faceforensics", "--source", root, "--official-splits", splits, "--data-dir", tmp_path / "d")
    assert result.exit_code == 1 and "val.json cannot be read as JSON" in result.stderr
    (splits / "test.json").unlink()
    (splits / "val.json").write_text(json.dumps({"pairs": []}))
    result = cli("data", "download", "faceforensics", "--source", root, "--official-splits", splits, "--data-dir", tmp_path / "d")
    assert result.exit_code == 1 and "not a list of id pairs" in result.stderr


def test_badly_named_and_broken_faceforensics_videos_are_reported(cli, tmp_path):
    root = make_faceforensics_tree(tmp_path / "ff", PAIRS, methods=("Deepfakes",), frames=2)
    fakes = root / "manipulated_sequences" / "Deepfakes" / "c23" / "videos"
    write_face_video(fakes / "000.mp4", FACE_SEEDS[-1], 2)
    (fakes / "002_003.mp4").write_bytes(b"")
    dataset = tmp_path / "dataset"
    result = cli("data", "download", "faceforensics", "--source", root, "--frames", 2, "--data-dir", dataset)
    assert result.exit_code == 0, result.output
    assert "000.mp4: its name is not TARGET_SOURCE" in result.stderr
    assert "002_003.mp4: the file is empty" in result.stderr


def test_identity_groups_join_every_id_a_fake_links():
    root = Path("/ff")
    videos = [SourceVideo(root / f"{i}.mp4", "real", i, i) for i in ("1", "2", "3", "4")]
    tree = faceforensics._Identities()
    for a, b in (("1", "2"), ("2", "3")):
        tree.join(a, b)
    assert tree.find("1") == tree.find("3") != tree.find("4")
    assign_splits(videos, seed=0)
    assert all(v.split in SPLITS for v in videos)


def test_parse_methods():
    assert faceforensics.parse_methods("all") == faceforensics.METHODS
    assert faceforensics.parse_methods("deepfakes, FACE2FACE deepfakes") == ("Deepfakes", "Face2Face")
