"""Tuned settings disclosed (issue 27, item 4): every setting chosen after seeing a check's outcome is marked in its
configuration, its measured sensitivity table is stored and read by REPORT.md, and the measurement computes what
the experiment computes."""
import json
import os

import pytest

from shb.experiments import sensitivity
from shb.experiments.figures.offline import config as offline_config
from shb.experiments.figures.online import config as online_config
from shb.experiments.sensitivity import TUNED
from shb.numeric import networks


def configurations():
    """(where, configuration) of every scale of the offline and online experiments."""
    for scale in offline_config.CONFIGS:
        yield f"offline {scale}", offline_config.config_for(scale)
    for scale in online_config.CONFIGS:
        for net in networks.NETWORKS:
            yield f"online {net} {scale}", online_config.config_for(scale, net)


def test_every_tuned_mark_names_an_entry_whose_chosen_value_is_the_configured_one():
    # Catches: a tuned setting changed in its configuration without its table (the table would describe another
    # value), a mark naming no entry, and an entry marked nowhere (a disclosure that belongs to nothing).
    marked = set()
    for where, config in configurations():
        assert "tuned" in config, f"{where}: every configuration says which of its settings were tuned ({{}}: none)"
        for key, name in config["tuned"].items():
            assert name in TUNED, (where, name)
            assert config[key] == TUNED[name].chosen, (where, key)
            marked.add(name)
    assert marked == set(TUNED)
    assert online_config.config_for("quick", "cnn")["tuned"] == {"meta_lr": "online-cnn-meta-lr"}  # the example


@pytest.mark.parametrize("name", list(TUNED))
def test_every_tuned_setting_has_its_measured_table(name):
    # Catches: a disclosure without numbers, a table that leaves out a value tried, and a chosen value whose check
    # fails in its own table (then the figure could not pass either). The CNN's table is the example.
    tuned, record = TUNED[name], sensitivity.stored(name)
    assert record is not None, f"run `shb sensitivity {name}`"
    assert [row["value"] for row in record["rows"]] == list(tuned.values) and tuned.chosen in tuned.values
    assert record["chosen"] == tuned.chosen and record["command"].startswith(f"shb sensitivity {name}")
    chosen = next(row for row in record["rows"] if row["value"] == tuned.chosen)
    assert chosen["passed"]
    if name == "online-cnn-meta-lr":
        assert list(tuned.values) == [0.05, 0.1, 0.15, 0.2] and record["dataset"] == "fashion-mnist"
        assert all(row["passed"] == (row["quantity"] >= online_config.LR_RATIO) for row in record["rows"])


def test_the_report_section_prints_each_table_with_its_command(tmp_path):
    # Catches: a section that drops rows or the regenerating command, or hides a setting not yet measured.
    root = tmp_path / "tree"
    name = "online-cnn-meta-lr"
    os.makedirs(root / sensitivity.FOLDER)
    rows = [{"value": v, "quantity": q, "passed": q >= 3, "alpha_eff_fall": 2 * q, "final_train_loss": 0.5}
            for v, q in ((0.05, 2.1), (0.1, 2.9), (0.15, 5.5), (0.2, 7.0))]
    (root / sensitivity.FOLDER / f"{name}.json").write_text(json.dumps({
        "rows": rows, "quantity": "alpha fall", "dataset": "fashion-mnist", "command": f"shb sensitivity {name}",
        "measured": {"date": "2026-12-07", "git_commit": "0123456789abcdef", "git_dirty": False}}))
    text = sensitivity.section(str(root))
    assert "| 0.15 (chosen) | 5.5 | PASS | 11 | 0.5 |" in text and "| 0.1 | 2.9 | FAIL | 5.8 | 0.5 |" in text
    assert f"Regenerate: `shb sensitivity {name}` (data set fashion-mnist" in text
    assert "Not measured yet: run `shb sensitivity online-mlp-meta-lr`" in text


def test_the_report_has_the_tuned_settings_section(tmp_path):
    from shb.experiments import report

    report.write_report(str(tmp_path), "quick", "shb reproduce", [], 1.0)
    text = (tmp_path / "REPORT.md").read_text()
    assert "## Tuned settings" in text and "ONLINE_QUICK['meta_lr']" in text


@pytest.mark.slow
def test_the_measurement_computes_what_the_experiment_computes(tmp_path, data_dir):
    # Catches: a sensitivity run that is not the experiment's run (another seed, data, configuration or step count):
    # at the configured value its alpha fall must be the online experiment's, to the last bit.
    from shb.experiments.registry import EXPERIMENTS

    EXPERIMENTS["online"].run(str(tmp_path), "tiny", net="mlp", dataset="fashion-mnist", data_dir=data_dir)
    with open(tmp_path / "online.json") as handle:
        summary = json.load(handle)["summary"]["stochastic"]
    measure = sensitivity.online_meta_lr("mlp")
    value = online_config.TINY["meta_lr"]
    rows, dataset = measure((value, 2 * value), data_dir, 0, scale="tiny")
    assert rows[0]["quantity"] == summary["initial_lr"] / summary["lr_end_of_adaptation"]
    assert rows[1]["quantity"] != rows[0]["quantity"]  # the value is applied
    assert all(row["passed"] == (row["quantity"] >= online_config.LR_RATIO) for row in rows)
    rows, _ = sensitivity.offline_check_eps((1e-4,), data_dir, 0, scale="tiny")
    assert rows[0]["passed"] == (rows[0]["quantity"] < offline_config.HYPERGRAD_TOLERANCE)
