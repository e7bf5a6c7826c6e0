"""The figures and experiments of the registry (experiments/registry.py), one module or package each; the
machinery they share (runner, verified figures, report, reproduce) is in experiments/ itself."""
