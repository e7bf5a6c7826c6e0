"""The offline experiment's fit variant (issue 28, item 2): Figures 5 and 6 on the first N training examples.

On Fashion-MNIST no schedule drives the train loss below about 0.14 in 20k steps, so the paper's second offline
claim (the 100-step horizon's train loss at 20k steps over 1000x the 20k horizon's, on MNIST) cannot hold there
whatever the schedules. This variant runs the same experiment (experiments/figures/offline) on a training set the
MLP can fit (config.FIT_N_TRAIN), to test whether the small ratio is the data set or the implementation. Its
scales are the offline experiment's (no medium: `shb reproduce --scale medium` runs it at quick, horizons 100 and
1k, beside the full-data medium run; registry least_scale: `make reproduce` at quick leaves it out). Its files are
named apart (offline-fit.json, fig5-fit, fig6-fit), so it shares an output folder with the full-data run.

    shb offline --fit --scale quick --out DIR      (the same as `shb figure offline-fit --scale quick --out DIR`)
"""
from shb.experiments.figures import offline
from shb.experiments.figures.offline.config import fit_config

CONFIGS = {scale: fit_config(offline.CONFIGS[scale], scale) for scale in ("tiny", "quick", "paper")}


def config_for(scale, net="mlp"):
    """The fit variant of the offline configuration of network `net` at `scale`."""
    return offline.config_for(scale, net, fit=True)


run = offline.run
