"""The experiment registry: every entry runs at its tiny scale and returns one honest Result, and an entry added
to the registry appears in `shb figure`, `shb reproduce` and here without edits elsewhere."""
import json
import os
import types

import pytest

from shb.cli import build_parser
from shb.experiments import registry
from shb.experiments.registry import EXPERIMENTS, Experiment
from shb.experiments.reproduce import plan
from shb.experiments.result import Result
from shb.experiments.verified import sidecar_checks, stamp_text, verdict
from shb.ground.errors import InputError


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_every_entry_runs_at_tiny_scale_and_tells_the_truth(name, tmp_path, data_dir):
    # Catches: an entry whose module lacks a tiny configuration or the run contract, a Result whose `passed`
    # disagrees with its checks or with the stamp of its figures, figures it names but did not write, a figure
    # without evidence (every registered figure must have a check that could show its numbers wrong, issue 27), a
    # check without a kind, and a conclusion the report does not print or that names a check the figure lacks.
    result = EXPERIMENTS[name].run(str(tmp_path), "tiny", data_dir=data_dir)
    assert isinstance(result, Result) and result.title and result.report.strip() and result.complete
    assert result.checks and result.passed == all(c["passed"] for c in result.checks)
    assert {c["kind"] for c in result.checks} <= {"evidence", "invariant", "provenance"}
    assert result.figures
    for figure in result.figures:
        assert all((tmp_path / f"{figure}.{ext}").stat().st_size > 0 for ext in ("png", "pdf", "json"))
        sidecar = json.loads((tmp_path / f"{figure}.json").read_text())
        checks = sidecar_checks(sidecar)
        assert len(sidecar["evidence"]) >= 1, f"{figure} has no evidence check"
        assert all(c["kind"] == "evidence" for c in sidecar["evidence"])
        assert all(c["kind"] == "invariant" for c in sidecar["invariants"])
        assert sidecar["all_checks_passed"] == verdict(checks) and sidecar["stamp"] == stamp_text(checks)
        assert {c["name"] for c in checks} <= {c["name"] for c in result.checks}
        for conclusion in sidecar["conclusions"]:  # "net": the panel whose checks, named "<net>/...", it rests on
            prefix = f"{conclusion['net']}/" if "net" in conclusion else ""
            assert conclusion["statement"] in result.report
            assert {prefix + name for name in conclusion["supported_by"]} <= {c["name"] for c in checks}
    for row in result.paper_vs_ours:
        assert {"quantity", "paper", "ours", "command"} <= set(row)


def test_an_unknown_scale_is_one_line_naming_it(tmp_path):
    with pytest.raises(InputError, match="'huge'.*tiny, quick, paper"):
        EXPERIMENTS["fig1"].run(str(tmp_path), "huge")
    assert not os.listdir(tmp_path)


def test_a_new_entry_appears_in_figure_reproduce_and_the_registry(monkeypatch, tmp_path):
    # The one-line extension route: a module with CONFIGS and run(), one registry entry, nothing else edited.
    module = types.ModuleType("shb_test_extra_figure")
    module.CONFIGS = {"tiny": {"k": 1}, "quick": {"k": 2}, "paper": {"k": 3}}
    module.run = lambda out_dir, config, scale="quick": Result(f"extra k={config['k']}", True, report="ok")
    monkeypatch.setitem(__import__("sys").modules, "shb_test_extra_figure", module)
    entry = Experiment("extra", "Extra figure", "shb_test_extra_figure", "nqm")
    monkeypatch.setitem(registry.EXPERIMENTS, "extra", entry)
    args = build_parser().parse_args(["figure", "extra", "--scale", "paper"])
    assert args.name == "extra"
    assert "Extra figure" in [label for label, _ in plan("nqm")]
    assert "Extra figure" not in [label for label, _ in plan("mlp")]
    assert entry.run(str(tmp_path), "paper", data_dir="ignored: run() does not take it").title == "extra k=3"


def fake_module(monkeypatch, name, scales):
    module = types.ModuleType(name)
    module.CONFIGS = {s: {"scale": s} for s in scales}
    module.run = lambda out_dir, config, scale="quick": Result(f"ran {config['scale']}", True, report="ok")
    monkeypatch.setitem(__import__("sys").modules, name, module)
    return Experiment(name, name, name, "mlp")


def test_a_scale_only_some_entries_have_falls_back_for_the_others(monkeypatch, tmp_path):
    # `shb reproduce --scale medium`: the offline experiment at medium, every entry without medium at quick; the
    # result says which. Catches a fallback that runs the others at paper (hours) or refuses them.
    without = fake_module(monkeypatch, "shb_test_no_medium", ("tiny", "quick", "paper"))
    with_medium = fake_module(monkeypatch, "shb_test_medium", ("tiny", "quick", "medium", "paper"))
    result = without.run(str(tmp_path), "medium")
    assert (result.title, result.scale) == ("ran quick", "quick")
    result = with_medium.run(str(tmp_path), "medium")
    assert (result.title, result.scale) == ("ran medium", "medium")
    assert EXPERIMENTS["offline"].scale_for("medium") == "medium"
    assert EXPERIMENTS["fig1"].scale_for("medium") == "quick" == EXPERIMENTS["online"].scale_for("medium")
    with pytest.raises(InputError, match="'huge'"):
        without.run(str(tmp_path), "huge")
    for command in (["reproduce", "--scale", "medium"], ["figure", "fig1", "--scale", "medium"]):
        assert build_parser().parse_args(command).scale == "medium"


def test_the_report_says_the_scale_each_part_ran_at(tmp_path):
    from shb.experiments.report import write_report

    write_report(str(tmp_path), "medium", "shb reproduce --scale medium",
                 [Result("Figure 1", True, scale="quick"), Result("Offline", True, scale="medium")], 1.0)
    text = (tmp_path / "REPORT.md").read_text()
    assert "| Figure 1 | PASS | quick |" in text and "| Offline | PASS | medium |" in text


def test_the_report_opens_a_later_chapter_once_before_its_first_entry(tmp_path):
    # Catches: the chapter heading repeated for every entry, missing, or placed among the paper's sections, and
    # the paper's sections changed by the new chapter.
    from shb.experiments.report import write_report

    paper = Result("Figure 9", True, report="paper body")
    later = [Result(f"Extra {k}", True, report=f"extra body {k}") for k in (1, 2)]
    for result in later:
        result.chapter = "Beyond the paper"
    write_report(str(tmp_path), "tiny", "cmd", [paper], 1.0)
    before = (tmp_path / "REPORT.md").read_text()
    write_report(str(tmp_path), "tiny", "cmd", [paper, *later], 1.0)
    text = (tmp_path / "REPORT.md").read_text()
    assert text.count("\n# Beyond the paper\n") == 1 and registry.CHAPTERS["Beyond the paper"] in text
    assert text.index("paper body") < text.index("# Beyond the paper") < text.index("extra body 1") < text.index(
        "extra body 2")
    assert "## Figure 9\n\npaper body\n" in before and "## Figure 9\n\npaper body\n" in text


def test_an_entry_that_cannot_run_stays_in_its_chapter(monkeypatch, tmp_path):
    from shb.experiments import reproduce

    def broken(out_dir, scale, **options):
        raise InputError("no data here")

    broken.chapter = "Beyond the paper"
    monkeypatch.setattr(reproduce, "plan", lambda only=None: [("Broken", broken)])
    sections = reproduce.reproduce(str(tmp_path), "tiny", log=lambda *a: None)
    assert sections[0].chapter == "Beyond the paper" and not sections[0].passed
    text = (tmp_path / "REPORT.md").read_text()
    assert text.index("# Beyond the paper") < text.index("Not run: no data here")
    chapters = [e.chapter for e in EXPERIMENTS.values()]
    assert EXPERIMENTS["lookahead"].chapter == EXPERIMENTS["atlas"].chapter == "Beyond the paper"
    assert chapters == sorted(chapters, key=lambda c: c is not None), "the paper's figures come first"
    assert set(chapters) - {None} <= set(registry.CHAPTERS)
