"""Tests for proofs/ and `shb prove`: every proof holds, and the kernel rejects false claims of every kind.

One full run of `shb prove --json --report PATH` (about 15 s) is shared by the
tests that need the real results; the kernel tests use small claims.
"""
import json
import os
import types

import pytest
import sympy as sp

from shb.proofs import kernel, report, runner
from shb.proofs.kernel import (Identity, Nonnegative, Positive, PositiveSemidefinite, Solves, Square, Step,
                           Substitutes)
from shb.proofs.numerical_only import NUMERICAL_ONLY
from shb import cli
from shb.symbolic import dynamics, greedy, model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
a, m, h, s2 = model.alpha, model.mu, model.h, model.sigma2
At, Av, E = model.A_theta, model.A_v, model.E_theta_v
z = sp.symbols("z_1 z_2", real=True)


@pytest.fixture(scope="module")
def prove_run(tmp_path_factory):
    """`shb prove --json --report PATH`, run once: (exit status, parsed JSON, report text)."""
    path = tmp_path_factory.mktemp("prove") / "proofs.md"
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli.main(["prove", "--json", "--report", str(path)])
    return status, json.loads(out.getvalue()), path.read_text(encoding="utf-8")


def holds(step):
    return step.check()[0]


# ---------------------------------------------------------------- the real proofs


@pytest.mark.slow
def test_every_step_holds_and_exit_status_is_zero(prove_run):
    status, doc, _ = prove_run
    failing = [(c["theorem"], c["step"], c["detail"]) for c in doc["claims"] if not c["holds"]]
    assert failing == []
    assert doc["all_hold"] is True
    assert status == 0


@pytest.mark.slow  # the full proof run (the module fixture prove_run)
def test_json_shape(prove_run):
    _, doc, _ = prove_run
    assert set(doc) >= {"claims", "all_hold", "findings", "numerical_only"}
    for claim in doc["claims"]:
        assert {"theorem", "claim", "holds", "seconds"} <= set(claim)
        assert isinstance(claim["holds"], bool) and claim["seconds"] >= 0
    assert doc["steps"] == len(doc["claims"])


@pytest.mark.slow
def test_every_theorem_and_claim_is_covered(prove_run):
    _, doc, _ = prove_run
    counts = {}
    for c in doc["claims"]:
        counts[c["theorem"]] = counts.get(c["theorem"], 0) + 1
    required = {"Theorem 1", "Theorem 2", "Theorem 3", "Theorem 4", "Convexity of the one-step loss",
                "Spherical case", "Deterministic case", "Noisy quadratic model"}
    assert required <= set(counts)
    assert all(counts[name] >= 3 for name in required)


@pytest.mark.slow  # the full proof run (the module fixture prove_run)
def test_multivariate_theorem2_is_checked_for_one_to_four_coordinates(prove_run):
    _, doc, _ = prove_run
    steps = {c["step"] for c in doc["claims"] if c["theorem"] == "Theorem 2"}
    for n in range(1, 5):
        assert f"A.2.2: alpha* (n = {n})" in steps
        assert f"A.2.2: mu* (n = {n}, minus sign restored)" in steps


@pytest.mark.slow  # the full proof run (the module fixture prove_run)
def test_step_names_are_unique_per_theorem(prove_run):
    _, doc, _ = prove_run
    keys = [(c["theorem"], c["step"]) for c in doc["claims"]]
    assert len(keys) == len(set(keys))


@pytest.mark.slow  # the full proof run (the module fixture prove_run)
def test_findings_cite_existing_steps_that_hold(prove_run):
    _, doc, _ = prove_run
    verdict = {f"{c['theorem']}: {c['step']}": c["holds"] for c in doc["claims"]}
    assert {f["id"] for f in doc["findings"]} >= {"mu-star-sign", "a1-noise-factor", "a3-recurrence",
                                                  "theorem3-index-range"}
    for finding in doc["findings"]:
        for name in finding["checked_by"]:
            assert verdict.get(name) is True, name


@pytest.mark.slow  # the full proof run (the module fixture prove_run)
def test_numerical_only_claims_are_not_steps(prove_run):
    _, doc, _ = prove_run
    assert doc["numerical_only"] == NUMERICAL_ONLY and NUMERICAL_ONLY
    claims = {c["claim"] for c in doc["claims"]}
    for item in NUMERICAL_ONLY:
        assert item["claim"] not in claims
        assert "numerical check in the test suite" in item["status"]


@pytest.mark.slow  # the full proof run (the module fixture prove_run)
def test_report_mentions_every_theorem_finding_and_equation(prove_run):
    _, doc, text = prove_run
    for module in runner.modules():
        assert f"## {module.THEOREM}" in text
    for name in ("Theorem 1", "Theorem 2", "Theorem 3", "Theorem 4", "Appendix A.1", "A.2.1", "A.2.2",
                 "Appendix A.3", "Eqs. 1-6", "Eqs. 10-14", "Eq. 15", "Eq. 16", "Eq. 17", "Eq. 7"):
        assert name in text, name
    for finding in doc["findings"]:
        assert finding["id"] in text
    assert "## Numerical-only claims" in text
    assert text.count("— holds.") == len(doc["claims"])


@pytest.mark.slow  # the full proof run (the module fixture prove_run)
def test_committed_report_is_current(prove_run):
    """docs/proofs.md is what `shb prove --report` writes now (regenerate it after changing a proof)."""
    _, _, text = prove_run
    with open(os.path.join(REPO, "docs", "proofs.md"), encoding="utf-8") as handle:
        assert handle.read() == text


def test_default_report_path_is_docs_proofs_md():
    args = cli.build_parser().parse_args(["prove", "--report"])
    assert os.path.abspath(args.report) == os.path.join(REPO, "docs", "proofs.md")
    assert cli.build_parser().parse_args(["prove"]).report is None


# ---------------------------------------------------------------- shb prove with failing proofs


def _fake_module(steps, theorem="Fake theorem"):
    return types.SimpleNamespace(THEOREM=theorem, CITES="none", STATEMENT="A fake proof.", steps=steps)


def test_a_failing_step_makes_shb_prove_exit_1(monkeypatch, capsys):
    bad = _fake_module(lambda: iter([Identity("false", "1 = 2", sp.Integer(1), sp.Integer(2)),
                                     Identity("true", "1 = 1", sp.Integer(1), sp.Integer(1))]))
    monkeypatch.setattr(runner, "modules", lambda: [bad])
    assert cli.main(["prove"]) == 1
    out = capsys.readouterr().out
    assert "FAILS" in out and "1 step(s) FAIL" in out
    assert cli.main(["prove", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["all_hold"] is False and [c["holds"] for c in doc["claims"]] == [False, True]


def test_an_error_while_building_a_proof_is_a_failing_step(monkeypatch):
    def steps():
        yield Identity("fine", "0 = 0", sp.Integer(0), sp.Integer(0))
        raise ZeroDivisionError("boom")

    results = runner.run_module(_fake_module(steps))
    assert [r.holds for r in results] == [True, False]
    assert "ZeroDivisionError" in results[-1].detail


def test_no_steps_is_not_all_hold(monkeypatch, capsys):
    monkeypatch.setattr(runner, "modules", lambda: [_fake_module(lambda: iter([]))])
    assert cli.main(["prove", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["all_hold"] is False


def test_report_path_that_is_a_directory_is_a_user_error(tmp_path, capsys):
    assert cli.main(["prove", "--report", str(tmp_path)]) == 2
    assert "directory" in capsys.readouterr().err


def test_markdown_marks_failures(monkeypatch):
    bad = _fake_module(lambda: iter([Identity("false", "1 = 2", sp.Integer(1), sp.Integer(2))]))
    monkeypatch.setattr(runner, "modules", lambda: [bad])
    text = report.markdown(runner.run_all())
    assert "**FAILS**" in text and "0 hold, 1 fail" in text


# ---------------------------------------------------------------- the kernel is not a rubber stamp


def test_identity_rejects_a_flipped_sign():
    printed = m**2 * model.var_v + (a * h) ** 2 * model.var_theta - 2 * m * a * h * model.cov_theta_v + (a * h) ** 2 * s2
    flipped = printed + 4 * m * a * h * model.cov_theta_v
    var_v = dynamics.theorem1()["var_v"]
    assert holds(Identity("Eq. 12", "", var_v, printed))
    assert not holds(Identity("Eq. 12 flipped", "", var_v, flipped))


def test_identity_rejects_a_wrong_coefficient():
    stats = dynamics.theorem1()
    right = (1 - 2 * a * h) * model.var_theta + stats["var_v"] + 2 * m * model.cov_theta_v
    wrong = (1 - a * h) * model.var_theta + stats["var_v"] + 2 * m * model.cov_theta_v
    assert holds(Identity("V[theta']", "", stats["var_theta"], right))
    assert not holds(Identity("V[theta'] wrong", "", stats["var_theta"], wrong))


def test_identity_rejects_mu_star_without_its_minus_sign():
    _, mu_star = greedy.greedy_univariate()
    alpha_star, _ = greedy.greedy_univariate()
    assert not holds(Identity("unsigned mu*", "", mu_star, (1 - alpha_star * h) * E / Av))


def test_identity_rejects_a_wrong_matrix_entry_and_a_shape_mismatch():
    hessian, _ = greedy.quadratic_form()
    wrong = sp.Matrix(hessian)
    wrong[0, 1] = -wrong[0, 1]
    assert holds(Identity("H", "", hessian, hessian))
    assert not holds(Identity("H wrong", "", hessian, wrong))
    assert not holds(Identity("shape", "", hessian, hessian[:, 0]))


def test_identity_rejects_a_rational_identity_off_by_one():
    k = sp.Symbol("k", positive=True)
    x, y = sp.symbols("a b", positive=True)
    c = x * y / (x + y)
    assert holds(Identity("paper's identity", "", c * y / (k * c + y), x * y / ((k + 1) * x + y)))
    assert not holds(Identity("off by one", "", c * y / (k * c + y), x * y / (k * x + y)))


def test_substitution_rejects_a_wrong_result():
    _, mu_star = greedy.greedy_univariate()
    assert holds(Substitutes("mu* at sigma2 = 0", "", mu_star, {s2: 0}, 0))
    assert not holds(Substitutes("mu* at sigma2 = 0 wrong", "", mu_star, {s2: 0}, 1))
    assert not holds(Substitutes("mu* unsubstituted", "", mu_star, {}, 0))


def test_solves_rejects_a_wrong_solution():
    loss = greedy.one_step_loss()
    eqs = [sp.diff(loss, x) for x in greedy.X]
    alpha_star, mu_star = greedy.greedy_univariate()
    assert holds(Solves("stationary", "", eqs, greedy.X, {a: alpha_star, m: mu_star}))
    assert not holds(Solves("unsigned mu*", "", eqs, greedy.X, {a: alpha_star, m: -mu_star}))
    assert not holds(Solves("SGD alpha", "", eqs, greedy.X, {a: At / (h * (At + s2)), m: mu_star}))
    assert not holds(Solves("missing unknown", "", eqs, greedy.X, {a: alpha_star}))


def test_solves_rejects_a_claimed_unique_solution_of_a_singular_or_nonlinear_system():
    x, y = sp.symbols("x y", real=True)
    assert not holds(Solves("dependent", "", [x + y - 1, 2 * x + 2 * y - 2], [x, y], {x: 1, y: 0}))
    assert holds(Solves("dependent, not unique", "", [x + y - 1, 2 * x + 2 * y - 2], [x, y], {x: 1, y: 0},
                        unique=False))
    assert not holds(Solves("nonlinear", "", [x**2 - 1], [x], {x: 1}))


def test_nonnegative_rejects_a_wrong_certificate():
    from shb.proofs.convexity import _expect_copy_of_pair, theta_bar, v_bar

    lagrange = model.theta * v_bar - theta_bar * model.v
    half = Square(sp.Rational(1, 2), lagrange, _expect_copy_of_pair)
    assert holds(Nonnegative("Cauchy-Schwarz", "", At * Av - E**2, [half]))
    assert not holds(Nonnegative("wrong weight", "", At * Av - E**2, [Square(1, lagrange, _expect_copy_of_pair)]))
    assert not holds(Nonnegative("reversed", "", E**2 - At * Av, [half]))


def test_nonnegative_rejects_a_negative_or_unsigned_weight():
    x = sp.Symbol("x", real=True)
    assert not holds(Nonnegative("negative weight", "", -x**2, [Square(-1, x)]))
    assert not holds(Nonnegative("unsigned weight", "", E * x**2, [Square(E, x)]))


def test_nonnegative_without_certificate_needs_a_definite_true():
    assert holds(Nonnegative("h^2", "", h**2))
    assert not holds(Nonnegative("unknown sign", "", E))  # the assumption system answers None
    assert not holds(Nonnegative("negative", "", -h**2))
    assert not holds(Nonnegative("mu* E without D > 0", "", -greedy.greedy_univariate()[1] * E))


def test_hypotheses_are_needed_and_are_not_a_blank_cheque():
    D = At * Av + Av * s2 - E**2
    _, mu_star = greedy.greedy_univariate()
    assert holds(Nonnegative("given D", "", -mu_star * E, [Square(s2, E)], hypotheses=[D]))
    assert not holds(Nonnegative("given D, flipped", "", mu_star * E, [Square(s2, E)], hypotheses=[D]))
    assert not holds(Nonnegative("given D, wrong certificate", "", -mu_star * E, [Square(1, E)], hypotheses=[D]))


def test_positive_rejects_nonnegative_only_and_unknown_sign():
    assert not holds(Positive("sigma2", "", s2))  # sigma2 >= 0 only
    assert holds(Positive("sigma2 assumed > 0", "", s2, assume={s2: {"positive": True}}))
    assert not holds(Positive("E", "", E))
    assert not holds(Positive("-h", "", -h))


def test_psd_rejects_indefinite_matrices():
    assert holds(PositiveSemidefinite("identity", "", sp.eye(2)))
    assert not holds(PositiveSemidefinite("indefinite", "", sp.Matrix([[1, 2], [2, 1]])))
    assert not holds(PositiveSemidefinite("negative entry", "", sp.Matrix([[-h, 0], [0, h]])))
    assert not holds(PositiveSemidefinite("not symmetric", "", sp.Matrix([[1, 1], [0, 1]])))
    assert not holds(PositiveSemidefinite("unknown sign", "", sp.Matrix([[E, 0], [0, 1]])))


def test_psd_certificate_must_match_the_quadratic_form():
    from shb.proofs.convexity import expect_raw, gram_vector

    hessian, _ = greedy.quadratic_form()
    w = gram_vector()
    zw = z[0] * w[0] + z[1] * w[1]
    assert holds(PositiveSemidefinite("H_i", "", hessian, z, [Square(h, zw, expect_raw)]))
    assert not holds(PositiveSemidefinite("wrong weight", "", hessian, z, [Square(h**2, zw, expect_raw)]))
    assert not holds(PositiveSemidefinite("indefinite", "", sp.Matrix([[1, 2], [2, 1]]), z,
                                          [Square(1, z[0] + 2 * z[1])]))


def test_a_check_that_raises_fails():
    class Broken(Step):
        kind = "broken"

        def _check(self):
            raise RuntimeError("cannot decide")

        def _latex(self):
            return ""

    result = Broken("broken", "").run("Test")
    assert result.holds is False and "RuntimeError" in result.detail


def test_vanishes_never_accepts_a_zero_denominator():
    x = sp.Symbol("x")
    ok, _ = kernel.vanishes(sp.Mul(x, sp.Pow(x - x, -1, evaluate=False), evaluate=False))
    assert not ok


def test_reproduce_section_writes_the_report_and_reports_failures(monkeypatch, tmp_path):
    from shb import proofs

    good = _fake_module(lambda: iter([Identity("true", "1 = 1", sp.Integer(1), sp.Integer(1))]))
    bad = _fake_module(lambda: iter([Identity("false", "1 = 2", sp.Integer(1), sp.Integer(2))]), "Bad theorem")
    monkeypatch.setattr(runner, "modules", lambda: [good])
    section = proofs.reproduce_section(str(tmp_path / "ok.md"))
    assert section["passed"] is True and "## Fake theorem" in (tmp_path / "ok.md").read_text()
    monkeypatch.setattr(runner, "modules", lambda: [good, bad])
    section = proofs.reproduce_section(str(tmp_path / "bad.md"))
    assert section["passed"] is False and "Bad theorem: false" in section["report"]


@pytest.mark.slow
def test_every_update_rule_has_its_theorem1_checked(prove_run):
    # Catches: a rule added to symbolic/optimizers.py without its proofs, or a proofs module dropped from the runner.
    from shb.symbolic.optimizers import RULES

    _, doc, _ = prove_run
    steps = {(c["theorem"], c["step"]) for c in doc["claims"]}
    for rule in RULES:
        for what in ("mean step", "raw step", "covariance step", "raw and central agree", "adjoint", "one-step loss",
                     "greedy sums"):
            assert ("Rules: Theorem 1 for each rule", f"{rule.name}: {what}") in steps
    for theorem, step in (("Rules: heavy ball = Theorem 1", "Theorem 1"),
                          ("Rules: Nesterov momentum", "Sutskever et al. 2013, Eqs. 3-4"),
                          ("Rules: preconditioning", "SGD in a preconditioned space"),
                          ("Rules: minibatch size", "noise variance of a minibatch"),
                          ("Rules: iterate averaging", "Polyak: gamma_t = 1/(t+2) keeps the running mean")):
        assert (theorem, step) in steps
