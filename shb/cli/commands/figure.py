"""`shb figure NAME [--scale quick|paper] [--out DIR]`: one of the paper's figures, as a verified plot."""
import importlib
import os

# name -> (module, keyword arguments of its run()); each module is one readable script in experiments/.
FIGURES = {
    "fig1": ("shb.experiments.fig1_trajectories", {}),
    "fig2": ("shb.experiments.fig2_short_horizon", {}),
    "fig3a": ("shb.experiments.fig3_schedules", {"preset": "paper"}),
    "fig3b": ("shb.experiments.fig3_schedules", {"preset": "paper-deterministic"}),
}


def register(subparsers):
    parser = subparsers.add_parser("figure", help="make one figure (PNG, PDF and a JSON sidecar with its checks)")
    parser.add_argument("name", choices=sorted(FIGURES))
    parser.add_argument("--scale", choices=("quick", "paper"), default="quick")
    parser.add_argument("--out", default="results", metavar="DIR")
    parser.set_defaults(func=run)


def run_figure(name, out_dir, scale):
    module, kwargs = FIGURES[name]
    return importlib.import_module(module).run(out_dir, scale=scale, **kwargs)


def run(args):
    os.makedirs(args.out, exist_ok=True)  # fail before the computation, not after it
    result = run_figure(args.name, args.out, args.scale)
    for c in result["checks"]:
        print(f"{'PASS' if c['passed'] else 'FAIL'}  {c['name']}: {c['detail']}")
    print(f"wrote {', '.join(result['figures'])} in {args.out}: {'verified' if result['passed'] else 'UNVERIFIED'}")
    return 0 if result["passed"] else 1
