"""`make mutate`: mutation testing of the NQM math with cosmic-ray (tests/mutation/cosmic-ray.toml).

    python tests/mutation/run.py [--session .mutate/session.sqlite] [--resume] [--limit N]

Steps: cosmic-ray `init` lists every mutant of the five modules; the operator filter of the config and the
number filter below keep one mutant per site; `baseline` runs the test subset unmutated (it must pass);
`exec` runs each mutant with one worker, mutating the file in place and restoring it afterwards (so the
editable install imports the mutant: do not edit or test in this checkout meanwhile); then the score and
every surviving mutant (with its diff) are written to .mutate/report.txt.

A run that kills no mutant at all is reported as an error: the tests then did not run the mutated code.
"""
import argparse
import os
import subprocess
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = os.path.join(HERE, "cosmic-ray.toml")


def cosmic_ray(*args):
    subprocess.run([sys.executable, "-m", "cosmic_ray.cli", *args], check=True)


def keep_one_number_mutant_per_literal(session):
    """cosmic-ray's NumberReplacer makes two mutants of each literal, +1 and -1 (occurrences 2k and 2k + 1 of a
    module): keep the +1 one."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(session, WorkDB.Mode.open) as db:
        for item in list(db.pending_work_items):
            if any(m.operator_name == "core/NumberReplacer" and m.occurrence % 2 for m in item.mutations):
                db.set_result(item.job_id, WorkResult(output="second number mutant of a literal (-1)",
                                                      worker_outcome=WorkerOutcome.SKIPPED))


def report(session, path):
    """Score and surviving mutants; returns (killed, survived, other)."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    outcomes, survivors, other = Counter(), [], []
    with use_db(session, WorkDB.Mode.open) as db:
        pending = db.num_work_items - db.num_results
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                outcomes["skipped"] += 1
            elif result.worker_outcome != WorkerOutcome.NORMAL:
                outcomes[str(result.worker_outcome)] += 1
                other.append((item, result))
            else:
                outcomes[str(result.test_outcome)] += 1
                if result.test_outcome == TestOutcome.SURVIVED:
                    survivors.append((item, result))
    killed, survived = outcomes["killed"], outcomes["survived"]
    tested = killed + survived
    lines = [f"cosmic-ray session {session}",
             f"mutants run: {tested}; killed {killed}, survived {survived}"
             + (f"; score {killed / tested:.1%}" if tested else ""),
             f"skipped by the filters: {outcomes['skipped']}; incompetent: {outcomes['incompetent']}; "
             f"not run (no test, exception, abnormal): {len(other)}; pending: {pending}", ""]
    for item, result in sorted(survivors, key=lambda ir: (ir[0].mutations[0].module_path, ir[0].mutations[0].start_pos)):
        m = item.mutations[0]
        lines += [f"SURVIVED {item.job_id} {m.module_path}:{m.start_pos[0]} {m.operator_name} occurrence {m.occurrence}",
                  result.diff or "", ""]
    for item, result in other:
        m = item.mutations[0]
        lines += [f"{str(result.worker_outcome).upper()} {item.job_id} {m.module_path}:{m.start_pos[0]} "
                  f"{m.operator_name}", (result.output or "")[-2000:], ""]
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines[:3]))
    print(f"survivors and diffs: {path}")
    return killed, survived, len(other)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--session", default=".mutate/session.sqlite")
    parser.add_argument("--report", default=".mutate/report.txt")
    parser.add_argument("--resume", action="store_true", help="go on with an existing session's pending mutants")
    parser.add_argument("--report-only", action="store_true", help="only write the report of an existing session")
    args = parser.parse_args(argv)
    if not args.report_only:
        if not args.resume:
            os.makedirs(os.path.dirname(args.session) or ".", exist_ok=True)
            if os.path.exists(args.session):
                os.remove(args.session)
            cosmic_ray("init", CONFIG, args.session)
            subprocess.run([sys.executable, "-m", "cosmic_ray.tools.filters.operators_filter", args.session, CONFIG],
                           check=True)
            keep_one_number_mutant_per_literal(args.session)
            cosmic_ray("baseline", CONFIG)
        cosmic_ray("exec", CONFIG, args.session)
    killed, survived, _ = report(args.session, args.report)
    if survived and not killed:
        sys.exit("no mutant was killed: the tests did not run the mutated code")


if __name__ == "__main__":
    main()
