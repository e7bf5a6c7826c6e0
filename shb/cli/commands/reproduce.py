"""`shb reproduce [--only nqm|mlp] [--scale quick|paper] [--out DIR]`: everything, and DIR/REPORT.md.

Order: derivations are current (shb derive --check), every proof holds (shb prove), the NQM
figures (1, 2, 3a, 3b), the MLP experiments. Each part's checks go into the report; the exit
status is non-zero if any check fails.
"""
import os
import sys
import time

from shb.cli.commands.figure import run_figure
from shb.ground.errors import InputError

NQM_FIGURES = ("fig1", "fig2", "fig3a", "fig3b")


def register(subparsers):
    parser = subparsers.add_parser("reproduce", help="derivations, proofs, figures and REPORT.md")
    parser.add_argument("--only", choices=("nqm", "mlp"), default=None)
    parser.add_argument("--scale", choices=("quick", "paper"), default="quick")
    parser.add_argument("--out", default="results", metavar="DIR")
    parser.add_argument("--data-dir", default=None, metavar="DIR", help="IDX data for the MLP experiments")
    parser.set_defaults(func=run)


def derivations_section(out_dir, scale):
    from shb.experiments.common import generated_code_check
    from shb.experiments.report import checks_table

    c = generated_code_check()
    text = ("The generated module `numeric/nqm_generated.py` and `docs/derivations.md` match the SymPy "
            "derivations in `symbolic/`.\n\n" + checks_table([c]) + "\n\nRegenerate with `shb derive`; check with `shb derive --check`.")
    return {"title": "Derivations", "passed": c["passed"], "report": text}


def proofs_section(out_dir, scale):
    from shb import proofs

    return proofs.reproduce_section(os.path.join(out_dir, "proofs.md"))


def figure_section(name):
    def section(out_dir, scale):
        result = run_figure(name, out_dir, scale)
        return {"title": result.get("title", name), **result}
    return section


def mlp_section(name, title):
    def section(out_dir, scale, data_dir=None):
        import importlib

        result = importlib.import_module(f"shb.experiments.{name}").run(out_dir, scale=scale, data_dir=data_dir)
        return {"title": title, **result}
    return section


MLP_SECTIONS = [
    ("Offline meta-optimization", mlp_section("offline", "Offline meta-optimization (Figures 5 and 6)")),
    ("Online meta-optimization", mlp_section("online", "Online meta-optimization (Figures 7 and 8)")),
]


def plan(only):
    steps = [("Derivations", derivations_section), ("Proofs", proofs_section)]
    if only in (None, "nqm"):
        steps += [(f"Figure {name[3:]}", figure_section(name)) for name in NQM_FIGURES]
    if only in (None, "mlp"):
        steps += MLP_SECTIONS
    return steps


def run(args):
    from shb.experiments.report import write_report

    os.makedirs(args.out, exist_ok=True)
    start = time.monotonic()
    sections = []
    for title, step in plan(args.only):
        t0 = time.monotonic()
        print(f"[reproduce] {title} ...", file=sys.stderr, flush=True)
        kwargs = {"data_dir": args.data_dir} if (title, step) in MLP_SECTIONS else {}
        try:
            section = step(args.out, args.scale, **kwargs)
        except InputError as err:
            section = {"title": title, "passed": False, "report": f"Not run: {err}"}
        section["seconds"] = time.monotonic() - t0
        print(f"[reproduce] {title}: {'PASS' if section['passed'] else 'FAIL'} ({section['seconds']:.0f} s)",
              file=sys.stderr, flush=True)
        sections.append(section)
    command = "shb reproduce" + (f" --only {args.only}" if args.only else "") + f" --scale {args.scale}"
    write_report(args.out, args.scale, command, sections, time.monotonic() - start)
    ok = all(s["passed"] for s in sections)
    print(f"wrote {os.path.join(args.out, 'REPORT.md')}: {'all checks pass' if ok else 'SOME CHECKS FAIL'}")
    return 0 if ok else 1
