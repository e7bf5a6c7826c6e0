"""The networks (Section 3): the MLP and the CNN with their derivatives (mlp.py, backprop.py, cnn.py,
cnn_backprop.py, net.py), the MLP with Autograd's derivatives (mlp_autograd.py), the data loaders (idx.py, cifar.py,
datasets.py) and the training loop (training.py).

This module is their registry: name -> the network's entry (numeric/networks/net.py `Network`), which gives

    make       its constructor, make(input_shape, n_classes, **sizes) -> Net: the input shape (H, W, C) or (d,) of
               one example, the number of classes, and the network's own size keywords, each with the paper's
               value as its default (the MLP: hidden_sizes; the CNN: filters, hidden)
    sizes      where each size keyword is read from an experiment's configuration
    settings   what it changes in an experiment's configuration at each scale, and the online experiment's data
               set at each scale
    tiny       a tiny instance, for the tests

Offline and online SMD, the hypergradient check, `shb bench` and the tests read networks from here by name. Adding a
network is one module that defines its entry and one line in NETWORKS (docs/extending.md).
"""
import inspect

from shb.ground.errors import InputError
from shb.numeric.networks import cnn, mlp, mlp_autograd

NETWORKS = {
    "mlp": mlp.NETWORK,
    "mlp-autograd": mlp_autograd.NETWORK,
    "cnn": cnn.NETWORK,
}


def entry(name):
    """The registry entry of network `name`; an InputError naming the choices if there is none."""
    if name not in NETWORKS:
        raise InputError(f"unknown network {name!r}; choose one of: {', '.join(NETWORKS)}")
    return NETWORKS[name]


def make(name, input_shape, n_classes, **sizes):
    """The Net `name` for inputs of `input_shape` and `n_classes` classes, with the network's size keywords."""
    constructor = entry(name).make
    try:
        inspect.signature(constructor).bind(input_shape, n_classes, **sizes)
    except TypeError as err:
        raise InputError(f"network {name!r} does not take these sizes: {err}") from None
    return constructor(input_shape, n_classes, **sizes)


def sizes(name, config):
    """{size keyword: value} of network `name` read from an experiment's configuration (lists as tuples)."""
    found = {}
    for keyword, key in entry(name).sizes.items():
        if key not in config:
            raise InputError(f"the configuration has no {key!r}, the size {keyword!r} of network {name!r}")
        value = config[key]
        found[keyword] = tuple(value) if isinstance(value, list) else value
    return found


def configured(name, experiment, scale, base):
    """The configuration `base` of `experiment` at `scale` with network `name`'s settings for it (a new dict)."""
    return dict(base, **entry(name).settings.get(experiment, {}).get(scale, {}))


def dataset(name, scale):
    """The data set the online experiment trains network `name` on at `scale` when none is chosen."""
    return entry(name).datasets.get(scale, "fashion-mnist")
