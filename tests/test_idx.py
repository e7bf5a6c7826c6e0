"""IDX loading: round trips, every header/length fault named in one line, data-dir resolution."""
import gzip
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shb.numeric.networks.idx import DEFAULT_DATA_DIR, load_idx, load_split, resolve_data_dir
from shb.cli import main as shb_main
from shb.ground.errors import InputError

from data_writers import write_idx, write_synthetic_split  # a sibling module: tests/ is on sys.path under pytest


@settings(deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3), gz=st.booleans(), seed=st.integers(0, 99))
def test_round_trip_any_shape(tmp_path_factory, shape, gz, seed):
    # Catches header-size/offset and byte-order bugs in the parser (and the .gz path).
    array = np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)
    path = str(tmp_path_factory.mktemp("idx") / ("a.idx.gz" if gz else "a.idx"))
    write_idx(path, array)
    np.testing.assert_array_equal(load_idx(path, len(shape)), array)


def test_header_written_matches_the_idx_specification(tmp_path):
    # Independent of write_idx's reader: the bytes LeCun's format prescribes.
    path = str(tmp_path / "labels")
    write_idx(path, np.array([3, 1, 4], dtype=np.uint8))
    assert open(path, "rb").read() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 3, 1, 4])
    raw = bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 10, 11, 12, 13])
    (tmp_path / "img").write_bytes(raw)
    np.testing.assert_array_equal(load_idx(str(tmp_path / "img"), 3), [[[10, 11]], [[12, 13]]])


def test_load_split_flattens_images_and_reads_plain_and_gz(tmp_path):
    for gz in (True, False):
        directory = str(tmp_path / f"gz{gz}")
        images, labels = write_synthetic_split(directory, n=50, shape=(4, 5), gz=gz)
        x, y = load_split(directory, "train")
        assert x.shape == (50, 20)
        np.testing.assert_array_equal(x, images.reshape(50, 20))
        np.testing.assert_array_equal(y, labels)


def corrupt_cases(good):
    header, body = good[:16], good[16:]
    return {
        "bad magic": b"\x01\x00" + good[2:],
        "dtype code 0x0d": good[:2] + b"\x0d" + good[3:],
        "dimensions": good[:3] + b"\x02" + good[4:],
        "truncated": good[:-3],
        "too long": good + b"\x00",
        "truncated in its header": good[:10],
        "no header": good[:2],
        "shape mismatch": header[:4] + (7).to_bytes(4, "big") + header[8:] + body,
    }


@pytest.mark.parametrize("case", list(corrupt_cases(bytes(16 + 24))))
def test_corrupt_image_file_is_one_line_user_error(tmp_path, case):
    write_idx(str(tmp_path / "good"), np.zeros((2, 3, 4), dtype=np.uint8))
    good = (tmp_path / "good").read_bytes()
    path = tmp_path / "bad"
    path.write_bytes(corrupt_cases(good)[case])
    with pytest.raises(InputError) as err:
        load_idx(str(path), 3)
    message = str(err.value)
    assert "\n" not in message and str(path) in message


def test_truncated_gzip_is_one_line_user_error(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 200]) + bytes(200))[:-12])
    with pytest.raises(InputError, match="corrupt or truncated gzip"):
        load_idx(str(path), 1)


def test_image_and_label_counts_must_agree(tmp_path):
    write_synthetic_split(str(tmp_path), n=30)
    write_idx(str(tmp_path / "train-labels-idx1-ubyte.gz"), np.zeros(29, dtype=np.uint8))
    with pytest.raises(InputError, match="30 images but .* 29 labels"):
        load_split(str(tmp_path), "train")


def test_data_dir_resolution_order(tmp_path, monkeypatch):
    explicit, env = tmp_path / "explicit", tmp_path / "env"
    explicit.mkdir(), env.mkdir()
    monkeypatch.setenv("SHB_DATA", str(env))
    assert resolve_data_dir(str(explicit)) == str(explicit)
    assert resolve_data_dir(None) == str(env)
    monkeypatch.delenv("SHB_DATA")
    if os.path.isdir(DEFAULT_DATA_DIR):
        assert resolve_data_dir(None) == DEFAULT_DATA_DIR
    else:
        with pytest.raises(InputError, match="dataset-fashion-mnist"):
            resolve_data_dir(None)


def test_missing_directory_and_file_say_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("SHB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(InputError, match=r"nowhere \(SHB_DATA\).*dataset-fashion-mnist.*--data-dir"):
        resolve_data_dir(None)
    with pytest.raises(InputError, match=r"train-images-idx3-ubyte\[\.gz\].*SHB_DATA"):
        load_split(str(tmp_path), "train")


@pytest.mark.parametrize("argv", [
    ["hypergrad-check", "--data-dir", "/nonexistent/shb-data"],
    ["offline", "--data-dir", "/nonexistent/shb-data", "--out", "OUT"],
])
def test_cli_missing_data_is_exit_2_one_line_no_result(tmp_path, capsys, argv):
    argv = [a.replace("OUT", str(tmp_path / "out")) for a in argv]
    assert shb_main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "/nonexistent/shb-data" in err and "Traceback" not in err
    assert not os.path.exists(tmp_path / "out" / "offline.json")


def test_cli_corrupt_file_is_exit_2(tmp_path, capsys):
    write_synthetic_split(str(tmp_path), n=30)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:40])
    assert shb_main(["hypergrad-check", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err


def test_dataset_name_from_the_training_labels_class_counts():
    # Fashion-MNIST is balanced (6000 per class), MNIST has its own counts; anything else is named by its directory.
    from shb.numeric.networks.idx import KNOWN_TRAIN_COUNTS, dataset_name

    for name, counts in KNOWN_TRAIN_COUNTS.items():
        labels = np.repeat(np.arange(10), counts).astype(np.uint8)
        assert dataset_name(labels, "D") == name
    mnist = np.repeat(np.arange(10), KNOWN_TRAIN_COUNTS["MNIST"])
    assert dataset_name(mnist[1:], "D") == "IDX data in D"  # one label short of MNIST
    assert dataset_name(np.zeros(60000, np.uint8), "D") == "IDX data in D"
