"""Optimizers as (init, update) pairs over flat parameter arrays (optax style).

    state = init(params)
    params, state = update(grad, state, params)

Used for the meta-optimization everywhere in the toolkit: fitting NQM
schedules (Section 2.3) and SMD meta-steps (Algorithm 1, MetaStep).
"""
from collections import namedtuple

import numpy as np

AdamState = namedtuple("AdamState", ["step", "m", "v"])


def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    """Adam (Kingma & Ba, 2015) with bias correction.

    m_t = b1 m_{t-1} + (1 - b1) g_t,  v_t = b2 v_{t-1} + (1 - b2) g_t^2,
    x_t = x_{t-1} - lr * (m_t / (1 - b1^t)) / (sqrt(v_t / (1 - b2^t)) + eps).
    """

    def init(params):
        zeros = np.zeros_like(np.asarray(params, dtype=float))
        return AdamState(0, zeros, zeros.copy())

    def update(grad, state, params):
        step = state.step + 1
        m = b1 * state.m + (1.0 - b1) * grad
        v = b2 * state.v + (1.0 - b2) * grad * grad
        m_hat = m / (1.0 - b1**step)
        v_hat = v / (1.0 - b2**step)
        params = params - learning_rate * m_hat / (np.sqrt(v_hat) + eps)
        return params, AdamState(step, m, v)

    return init, update
