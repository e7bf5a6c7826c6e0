"""The values inside a saved online run state (numeric/meta/online_state.py RunState), checked before a resume
uses it.

A file that loads but is wrong inside (weights or hyperparameters of the wrong length, an index outside the
training set, logs whose columns disagree, a random generator's state that is not one) would otherwise end in a
traceback or in wrong numbers later in the run; `validate` says in one line where it is wrong
(shb.ground.schema.Invalid; experiments/runner.py's load_progress names the file). Which fields the state has is
checked when it is loaded (RunState.load).
"""
import numpy as np

from shb.ground import schema as s

LOG = ("step", "lr", "mu", "train_loss", "test_error")
META = ("step", "meta_loss", "u")


def validate(state, config, n_params, n_train):
    """schema.Invalid naming the first place where `state` (a RunState) is not a run state of `config` for a network
    of n_params parameters trained on n_train examples (RunState.start and online_smd.advance make them)."""
    steps = config["steps"]
    s.integer(state.t, "t", 0, steps)
    for name, length in (("theta", n_params), ("v", n_params), ("u", 2), ("adam_m", 2), ("adam_v", 2)):
        array(getattr(state, name), name, (length,))
    for name in ("u", "adam_m", "adam_v"):
        s.numbers(getattr(state, name).tolist(), name, low=0 if name == "adam_v" else None)
    s.integer(state.adam_step, "adam_step")
    generator_state(state.rng)
    columns(state.log, "log", LOG)
    for i, step in enumerate(state.log["step"]):
        s.integer(step, f"log.step[{i}]", 0, steps)
    columns(state.meta, "meta", META)
    for i, u in enumerate(state.meta["u"]):
        s.numbers(u, f"meta.u[{i}]", 2)
    for name in ("nonfinite_meta_grads", "clipped_meta_steps"):
        s.integer(getattr(state, name), name)
    s.integer(state.diverged_at, "diverged_at", 0, steps, nullable=True)
    s.number(state.cpu_seconds, "cpu_seconds", low=0)
    sample = state.hypergrad_sample
    if sample is not None:
        s.integer(sample.t, "hypergrad_sample.t", 0, steps)
        for name, shape in (("u", (2,)), ("theta", (n_params,)), ("v", (n_params,)), ("hypergrad_used", (2,))):
            array(getattr(sample, name), f"hypergrad_sample.{name}", shape)
        indices(sample.step_idx, "hypergrad_sample.step_idx", (config["lookahead"], None), n_train)
        indices(sample.meta_idx, "hypergrad_sample.meta_idx", (None,), n_train)
    audit = state.audit
    if audit is not None:
        s.integer(audit.t, "audit.t", 0, steps)
        for name in ("theta_before", "v_before", "theta_after"):
            array(getattr(audit, name), f"audit.{name}", (n_params,))
        indices(audit.idx, "audit.idx", (config["batch_size"],), n_train)
    if state.trace is not None:
        for name in ("dtheta", "dv"):
            array(getattr(state.trace, name), f"trace.{name}", (2, n_params))
    window = state.trace_window
    if window is not None:
        W = len(window.us)
        s.integer(window.t, "trace_window.t", 0, steps)
        s.integer(window.filled, "trace_window.filled", 0, W + 1)
        for name, shape in (("theta", (n_params,)), ("v", (n_params,)), ("us", (None, 2))):
            array(getattr(window, name), f"trace_window.{name}", shape)
        indices(window.idx, "trace_window.idx", (W + 1, config["batch_size"]), n_train)


def array(value, where, shape, kind="f"):
    """A numpy array of `shape` (None: any length on that axis) whose dtype is of `kind` (numpy's kind codes)."""
    if not isinstance(value, np.ndarray):
        s.fail(where, "an array", value)
    if value.ndim != len(shape) or any(n is not None and n != m for n, m in zip(shape, value.shape)):
        raise s.Invalid(f"{where} has shape {value.shape}, expected {tuple('any' if n is None else n for n in shape)}")
    if value.dtype.kind not in kind:
        raise s.Invalid(f"{where} has dtype {value.dtype}, expected {'numbers' if kind == 'f' else 'integers'}")
    return value


def indices(value, where, shape, n):
    """An integer array of `shape` whose entries index a training set of n examples."""
    array(value, where, shape, kind="iu")
    if value.size and (value.min() < 0 or value.max() >= n):
        raise s.Invalid(f"{where} holds an index outside the {n} training examples")


def columns(value, where, names):
    """An object of equally long lists, one per name."""
    s.obj(value, where, names)
    lengths = {len(s.listing(value[name], f"{where}.{name}")) for name in names}
    if len(lengths) > 1:
        raise s.Invalid(f"{where}'s lists differ in length ({', '.join(f'{n} {len(value[n])}' for n in names)})")


def generator_state(value):
    """A state numpy's default generator accepts (it is set on one)."""
    try:
        np.random.default_rng().bit_generator.state = value
    except (TypeError, ValueError, KeyError, OverflowError):
        s.fail("rng", "the state of numpy's default random generator", value)
