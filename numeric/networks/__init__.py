"""The networks (Section 3): the MLP and the CNN with their derivatives (mlp.py, backprop.py, cnn.py,
cnn_backprop.py, net.py), the data loaders (idx.py, cifar.py) and the training loop (training.py).

This module is their registry: name -> constructor of its `Net` (numeric/networks/net.py).

Every constructor is called as constructor(input_shape, n_classes, **sizes), with the input shape
(H, W, C) or (d,) of one example, the number of classes, and the network's own size keywords
(the MLP: hidden_sizes; the CNN: filters, hidden), each with the paper's value as its default.
Adding a network is one module that defines its constructor and one line in NETWORKS.
"""
import inspect

from shb.ground.errors import InputError
from shb.numeric.networks import cnn
from shb.numeric.networks import mlp

NETWORKS = {
    "mlp": mlp.make_net,
    "cnn": cnn.make_net,
}


def make(name, input_shape, n_classes, **sizes):
    """The Net `name` for inputs of `input_shape` and `n_classes` classes, with the network's size keywords."""
    if name not in NETWORKS:
        raise InputError(f"unknown network {name!r}; choose one of: {', '.join(NETWORKS)}")
    constructor = NETWORKS[name]
    try:
        inspect.signature(constructor).bind(input_shape, n_classes, **sizes)
    except TypeError as err:
        raise InputError(f"network {name!r} does not take these sizes: {err}") from None
    return constructor(input_shape, n_classes, **sizes)
