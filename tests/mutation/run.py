"""`make mutate`: mutation testing of the NQM math and the hypergradient code with cosmic-ray
(tests/mutation/cosmic-ray.toml).

    python tests/mutation/run.py [--only nqm_checks ...] [--resume | --recheck | --report-only]

One cosmic-ray session per module, in the config's order, in .mutate/MODULE.sqlite: `init` lists every
mutant, the operator filter of the config and the number filter below keep one mutant per site, then
`exec` runs each mutant with one worker, mutating the file in place and restoring it afterwards (so the
editable install imports the mutant: do not edit or test in this checkout meanwhile). A `baseline` run of
the unmutated tests comes first and must pass. The score and every surviving mutant (with its diff) go to
.mutate/report.txt.

--resume goes on with interrupted sessions (a module whose session exists is not listed again);
--recheck runs the survivors again against the current tests (after adding tests that kill them), which
takes minutes instead of hours, and the mutants killed only by the timeout (slowness on a loaded machine is
not a kill); --report-only rewrites the report.
A run that kills no mutant at all is an error: the tests then did not run the mutated code.
"""
import argparse
import os
import subprocess
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = os.path.join(HERE, "cosmic-ray.toml")
OUT = ".mutate"


def cosmic_ray(*args):
    subprocess.run([sys.executable, "-m", "cosmic_ray.cli", *args], check=True)


def modules():
    from cosmic_ray.config import load_config

    return list(load_config(CONFIG)["module-path"])


def stem(module):
    return os.path.splitext(os.path.basename(module))[0]


# The hypergradient code has its own fast tests (the config's test-command runs the NQM ones): forward mode
# against central differences and reverse mode, the hand-derived MLP derivatives against Autograd, and the
# online checks shown to fail on a dropped tangent term (tests/test_checks_fail_nn.py).
HYPERGRADIENT_TESTS = (
    "env HYPOTHESIS_PROFILE=mutate .venv/bin/python -m pytest -x -q -p no:cacheprovider tests/test_hypergrad.py "
    "tests/test_mlp.py tests/test_checks_fail_nn.py tests/test_online.py tests/test_online_burst.py "
    "-k 'not dask and not cifar and not panel'"
)
TEST_COMMANDS = {module: HYPERGRADIENT_TESTS
                 for module in ("numeric/meta/hypergrad.py", "numeric/meta/reparam.py", "numeric/meta/lookahead.py",
                                "numeric/meta/online_smd.py", "numeric/networks/backprop.py")}
# The remedies (issue 30): their own tests, which check each against references that do not run it.
REMEDY_TESTS = ("env HYPOTHESIS_PROFILE=mutate .venv/bin/python -m pytest -x -q -p no:cacheprovider "
                "tests/nqm/test_corrections.py tests/test_corrections_figure.py")
TEST_COMMANDS.update({module: REMEDY_TESTS for module in ("numeric/nqm/trace.py", "numeric/nqm/pes.py",
                                                          "numeric/nqm/pieces.py", "numeric/nqm/corrections.py")})
TEST_COMMANDS["numeric/meta/trace.py"] = ("env HYPOTHESIS_PROFILE=mutate .venv/bin/python -m pytest -x -q "
                                          "-p no:cacheprovider tests/test_online_trace.py")


def module_config(module):
    """The config with module-path = [module] and the module's tests, written to .mutate/MODULE.toml; returns its
    path."""
    from cosmic_ray.config import load_config, serialize_config

    config = load_config(CONFIG)
    config["module-path"] = [module]
    config["test-command"] = TEST_COMMANDS.get(module, config["test-command"])
    path = os.path.join(OUT, stem(module) + ".toml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(serialize_config(config))
    return path


def session_of(module):
    return os.path.join(OUT, stem(module) + ".sqlite")


def keep_one_number_mutant_per_literal(session):
    """cosmic-ray's NumberReplacer makes two mutants of each literal, +1 and -1 (occurrences 2k and 2k + 1 in a
    module): keep the +1 one."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(session, WorkDB.Mode.open) as db:
        for item in list(db.pending_work_items):
            if any(m.operator_name == "core/NumberReplacer" and m.occurrence % 2 for m in item.mutations):
                db.set_result(item.job_id, WorkResult(output="second number mutant of a literal (-1)",
                                                      worker_outcome=WorkerOutcome.SKIPPED))


def timed_out(result):
    """cosmic-ray counts a test run that hits the timeout as a kill (output "timeout"); on a loaded machine that
    may be slowness, not the mutant, so --recheck runs these again too."""
    return result.output == "timeout"


def recheck_survivors(module):
    """Run every surviving (or timed-out) mutant of `module`'s session again against the module's current tests
    and record the new outcome."""
    from cosmic_ray.config import load_config
    from cosmic_ray.mutating import mutate_and_test
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome

    config = load_config(module_config(module))
    with use_db(session_of(module), WorkDB.Mode.open) as db:
        survivors = [item for item, result in db.completed_work_items
                     if result.test_outcome == TestOutcome.SURVIVED or timed_out(result)]
        for n, item in enumerate(survivors, 1):
            result = mutate_and_test(item.mutations, config.test_command, config.timeout)
            db.set_result(item.job_id, result)
            m = item.mutations[0]
            print(f"[{n}/{len(survivors)}] {m.module_path}:{m.start_pos[0]} {m.operator_name}: "
                  f"{getattr(result.test_outcome, 'value', result.test_outcome)}", flush=True)


def tally(session):
    """(Counter of outcomes, survivors [(item, result)], others [(item, result)], pending count) of a session."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    outcomes, survivors, other = Counter(), [], []
    with use_db(session, WorkDB.Mode.open) as db:
        pending = db.num_work_items - db.num_results
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                outcomes["skipped"] += 1
            elif result.worker_outcome != WorkerOutcome.NORMAL:
                outcomes["not run"] += 1
                other.append((item, result))
            else:
                name = {TestOutcome.KILLED: "killed", TestOutcome.SURVIVED: "survived"}.get(result.test_outcome,
                                                                                          "incompetent")
                outcomes[name] += 1
                outcomes["timeout"] += timed_out(result)
                if name == "survived":
                    survivors.append((item, result))
    return outcomes, survivors, other, pending


def score_line(label, outcomes, pending):
    killed, survived = outcomes["killed"], outcomes["survived"]
    tested = killed + survived
    return (f"{label}: {tested} mutants run, {killed} killed, {survived} survived"
            + (f", score {killed / tested:.1%}" if tested else "")
            + f" ({outcomes['timeout']} by the timeout)"
            + f"; {outcomes['incompetent']} incompetent, {outcomes['not run']} not run, {pending} pending, "
              f"{outcomes['skipped']} left out by the filters")


def report(sessions, path):
    """Score per module and overall, then every surviving mutant; returns the overall outcome counts."""
    total, total_pending, lines, details = Counter(), 0, [], []
    for session in sessions:
        if not os.path.exists(session):
            lines.append(f"{session}: not started")
            continue
        outcomes, survivors, other, pending = tally(session)
        total.update(outcomes)
        total_pending += pending
        lines.append(score_line(session, outcomes, pending))
        for item, result in sorted(survivors, key=lambda ir: ir[0].mutations[0].start_pos):
            m = item.mutations[0]
            details += [f"SURVIVED {item.job_id} {m.module_path}:{m.start_pos[0]} {m.operator_name} "
                        f"occurrence {m.occurrence}", result.diff or "", ""]
        for item, result in other:
            m = item.mutations[0]
            details += [f"{str(result.worker_outcome).upper()} {item.job_id} {m.module_path}:{m.start_pos[0]} "
                        f"{m.operator_name}", (result.output or "")[-2000:], ""]
    lines = [score_line("all modules", total, total_pending)] + lines + [""] + details
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines[:len(sessions) + 1]))
    print(f"survivors and their diffs: {path}")
    return total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="MODULE", help="only these modules (e.g. nqm_checks)")
    parser.add_argument("--report", default=os.path.join(OUT, "report.txt"))
    parser.add_argument("--resume", action="store_true", help="go on with existing sessions")
    parser.add_argument("--report-only", action="store_true", help="only write the report of existing sessions")
    parser.add_argument("--recheck", action="store_true",
                        help="run the survivors again against the current tests, then report")
    args = parser.parse_args(argv)
    chosen = [m for m in modules() if not args.only or stem(m) in args.only]
    # An interrupted run can leave a mutant in place: refuse to measure anything but the committed modules.
    changed = subprocess.run(["git", "diff", "--name-only", "HEAD", "--", *chosen], capture_output=True, text=True)
    if not args.report_only and changed.stdout.strip():
        sys.exit(f"{' '.join(changed.stdout.split())} differ from git HEAD: commit them, or, if an interrupted run "
                 "left a mutant behind, `git checkout` them, then run again")
    os.makedirs(OUT, exist_ok=True)
    if args.recheck:
        for module in chosen:
            if os.path.exists(session_of(module)):
                recheck_survivors(module)
    elif not args.report_only:
        baselined = set()
        for module in chosen:
            session, config = session_of(module), module_config(module)
            if TEST_COMMANDS.get(module) not in baselined:  # the unmutated tests pass, once per test command
                cosmic_ray("baseline", config)
                baselined.add(TEST_COMMANDS.get(module))
            if not (args.resume and os.path.exists(session)):
                if os.path.exists(session):
                    os.remove(session)
                cosmic_ray("init", config, session)
                subprocess.run([sys.executable, "-m", "cosmic_ray.tools.filters.operators_filter", session, config],
                               check=True)
                keep_one_number_mutant_per_literal(session)
            cosmic_ray("exec", config, session)
    total = report([session_of(m) for m in chosen], args.report)
    if total["survived"] and not total["killed"]:
        sys.exit("no mutant was killed: the tests did not run the mutated code")


if __name__ == "__main__":
    main()
