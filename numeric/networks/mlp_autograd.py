"""The paper's MLP with every derivative Autograd's (the design card's Autograd MLP): the network "mlp-autograd".

The same network as numeric/networks/mlp.py: prod(input_shape)-hidden_sizes-n_classes, ReLU hidden units, softmax
cross-entropy, weights N(0, 0.1^2) and zero biases drawn by the same `mlp.init_params`, the same layout of theta.
Only its derivatives differ. From the logits z = f(theta; X) (`mlp.logits`, autograd.numpy operations) Autograd
gives

    g = grad L(theta)         reverse mode through the loss L = cross_entropy(z, Y),
    H u = d/de g(theta + e u)  forward mode over that reverse pass (make_jvp of grad L), one pass per tangent u,

(net.autograd_net), where the "mlp" network computes them by hand (numeric/networks/backprop.py: backprop and
Pearlmutter's R-operator). Every experiment accepts it by name (`--net mlp-autograd`), and runs the same numbers as
"mlp" up to rounding: tests/test_mlp_autograd.py runs tiny offline and online experiments with both and compares
them. The hand-derived "mlp" is the faster one (`shb bench mlp` times both), and the one `make reproduce` runs.
"""
import numpy as np

from shb.numeric.networks import mlp
from shb.numeric.networks.net import Network, autograd_net, bind


def make_net(input_shape, n_classes, hidden_sizes=mlp.PAPER_SIZES[1:-1]):
    """The MLP prod(input_shape)-hidden_sizes-n_classes as a Net whose loss, gradient and Hessian-vector products are
    Autograd's derivatives of its logits (net.autograd_net); init and layout those of mlp.make_net."""
    sizes = (int(np.prod(input_shape)), *hidden_sizes, n_classes)
    layout, n_params = mlp.make_layout(sizes)
    return autograd_net("mlp-autograd", layout, n_params, lambda rng: mlp.init_params(sizes, rng),
                        bind(mlp.logits, layout))


# The registry entry: read from the experiments' configurations as the MLP is, with the MLP's settings (none).
NETWORK = Network(make_net, sizes=mlp.NETWORK.sizes, tiny=mlp.NETWORK.tiny)
