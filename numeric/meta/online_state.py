"""The state of one online SMD run (numeric/meta/online_smd.py) as a type, and its saved form.

A run resumes bit for bit from its `RunState`: the step t, the weights and velocity, u = (log alpha_eff,
log(1 - mu)) and Adam's state in u, the state of the run's random generator (every minibatch index is drawn from
it), the logs, the counters, the sampled meta-step the hypergradient check recomputes (`HypergradSample`), the
audited training step (`Audit`), the CPU seconds spent on the run, and the fingerprint of the data it trains on
(numeric/networks/datasets.py; None where the caller records none).

Saved form (`save` / `load`): one .npz holding the arrays `theta`, `v`, `u`, `adam_m`, `adam_v`, the samples'
arrays as `hypergrad_sample.<name>` and `audit.<name>`, and `header`, the UTF-8 bytes of a strict JSON object with
every other field (a sample's arrays left out), the run (`run`: its RunSpec) and the configuration (`config`) it was
made with. Nothing is pickled: np.load runs with allow_pickle=False. The layout is the one the run state had as a
dict of these keys, so progress saved then resumes. `load` refuses in one line a file it cannot read or whose
header lacks a field or has one it does not know; the values inside are checked by numeric/meta/online_schema.py
(after the run, the configuration and the data are compared: experiments/runner.py load_progress).
"""
import dataclasses
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Optional

import numpy as np

from shb.ground.errors import InputError, ProgressError
from shb.ground.io import atomic_write_bytes, parse_json, to_json
from shb.numeric.meta.reparam import hypers


@dataclass
class HypergradSample:
    """The first meta-step at or after check_step: where its lookahead started (t, u, theta, v), the indices of its
    minibatches (step_idx (T, batch), meta_idx), the meta-gradient the run used and its meta-loss (None if it was
    not finite, as saved)."""

    t: int
    meta_loss: Optional[float]
    u: np.ndarray
    theta: np.ndarray
    v: np.ndarray
    step_idx: np.ndarray
    meta_idx: np.ndarray
    hypergrad_used: np.ndarray


@dataclass
class Audit:
    """Training step t as it was taken: the weights and velocity before it, its minibatch's indices, the weights
    after it (the audit check recomputes the step from the logged lr and mu)."""

    t: int
    theta_before: np.ndarray
    v_before: np.ndarray
    idx: np.ndarray
    theta_after: np.ndarray


@dataclass
class Tangents:
    """A trace run's tangents of the weights and the velocity with respect to u (numeric/meta/trace.py), (2, n)."""

    dtheta: np.ndarray
    dv: np.ndarray


@dataclass
class TraceWindow:
    """What a trace run's hypergradient check replays: the weights and velocity at step t, the pair u applied at
    each of the window's W steps (W, 2), their minibatches' indices and the loss's (W + 1, batch); `filled` steps
    recorded so far (W + 1 when complete)."""

    t: int
    filled: int
    theta: np.ndarray
    v: np.ndarray
    us: np.ndarray
    idx: np.ndarray


# a field holding a sample, and its type
SAMPLES = {"hypergrad_sample": HypergradSample, "audit": Audit, "trace": Tangents, "trace_window": TraceWindow}
OPTIONAL = ("trace", "trace_window")  # fields a state saved before trace runs existed does not have: None


def arrays_of(kind):
    """The fields of a dataclass that are saved as arrays (the others go in the header)."""
    return tuple(f.name for f in dataclasses.fields(kind) if f.type is np.ndarray)


def new_log():
    return {"step": [], "lr": [], "mu": [], "train_loss": [], "test_error": []}


def new_meta():
    return {"step": [], "meta_loss": [], "u": []}


@dataclass
class RunState:
    """Everything a run needs to go on, and everything its results are read from (module docstring).

    log: {"step", "lr", "mu", "train_loss", "test_error"}: a list each, one entry per logged step;
    meta: {"step", "meta_loss", "u"}: a list each, one entry per burst of meta-steps.
    """

    t: int
    theta: np.ndarray
    v: np.ndarray
    u: np.ndarray
    adam_step: int
    adam_m: np.ndarray
    adam_v: np.ndarray
    rng: dict
    log: dict
    meta: dict
    nonfinite_meta_grads: int = 0
    clipped_meta_steps: int = 0
    diverged_at: Optional[int] = None
    hypergrad_sample: Optional[HypergradSample] = None
    audit: Optional[Audit] = None
    cpu_seconds: float = 0.0
    inputs: Optional[dict] = None
    trace: Optional[Tangents] = None
    trace_window: Optional[TraceWindow] = None

    @classmethod
    def start(cls, run, theta0, inputs=None):
        """A run before its first step: weights theta0, zero velocity, u from the run's (alpha, mu), Adam's state
        zero, the generator seeded with the run's seed; `inputs` the fingerprint of its data."""
        return cls(t=0, theta=theta0.copy(), v=np.zeros_like(theta0), u=hypers(run.alpha, run.mu), adam_step=0,
                   adam_m=np.zeros(2), adam_v=np.zeros(2), rng=np.random.default_rng(run.seed).bit_generator.state,
                   log=new_log(), meta=new_meta(), inputs=inputs)

    def save(self, path, run, config):
        """Write the state, made by `run` (a RunSpec) with `config`, as one .npz via an atomic replace."""
        arrays, header = {}, {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in SAMPLES:
                header[field.name] = None if value is None else {
                    f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.type is not np.ndarray}
                if value is not None:
                    arrays.update({f"{field.name}.{k}": np.asarray(getattr(value, k))
                                   for k in arrays_of(SAMPLES[field.name])})
            elif field.type is np.ndarray:
                arrays[field.name] = np.asarray(value)
            elif field.name != "inputs" or value is not None:
                header[field.name] = value
        header["run"], header["config"] = spec_dict(run), config
        arrays["header"] = np.frombuffer(to_json(header).encode("utf-8"), dtype=np.uint8)  # strict JSON
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path):
        """(identity, state) saved at `path` by `save`, identity as `identity` makes it; a ProgressError in one line
        if the file cannot be read, or its header lacks a field or has one the state does not have."""
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            raise ProgressError(f"progress file {path} is unreadable ({type(err).__name__}); delete it to start "
                                "over") from None
        try:
            header = parse_json(arrays.pop("header").tobytes().decode("utf-8"), "its header")
            saved = {"run": header.pop("run"), "config": header.pop("config")}
        except (KeyError, ValueError, TypeError, AttributeError) as err:  # InputError is a ValueError
            what = (f"no {err}" if isinstance(err, KeyError) else str(err) if isinstance(err, InputError)
                    else "its header is not a run state's")
            raise ProgressError(f"progress file {path} is unreadable ({what}); delete it to start over") from None
        try:
            fields = cls.read_fields(header, arrays)
        except KeyError as err:
            raise ProgressError(f"progress file {path} is unreadable (no {err}); delete it to start over") from None
        except ValueError as err:
            raise ProgressError(f"progress file {path} is not valid inside: {err}; delete it to start over") from None
        return saved, cls(**fields)

    @classmethod
    def read_fields(cls, header, arrays):
        """The fields of a state from a file's header and arrays; KeyError for a missing array, ValueError for
        a header that lacks a field or has an unknown one."""
        known = [f.name for f in dataclasses.fields(cls)]
        required = [f.name for f in dataclasses.fields(cls)
                    if f.type is not np.ndarray and f.name != "inputs" and f.name not in OPTIONAL]
        extra(header, "the run state", known)
        fields = {name: header[name] for name in header}
        missing = [name for name in required if name not in header]
        if missing:
            raise ValueError(f"the run state has no key {missing[0]!r}")
        fields.update({name: arrays[name] for name in arrays_of(cls)})
        for name, kind in SAMPLES.items():
            sample = header.get(name)
            if sample is None:
                continue
            scalars = [f.name for f in dataclasses.fields(kind) if f.type is not np.ndarray]
            if not isinstance(sample, dict) or set(sample) != set(scalars):
                raise ValueError(f"{name} must be null or an object of the keys {scalars}")
            fields[name] = kind(**sample, **{k: arrays[f"{name}.{k}"] for k in arrays_of(kind)})
        return fields


def extra(header, where, known):
    """ValueError if `header` has a key that is not in `known`."""
    unknown = sorted(set(header) - set(known))
    if unknown:
        raise ValueError(f"{where} has the unexpected key {unknown[0]!r} (its keys are {sorted(known)})")


def identity(run, config):
    """What a saved state was made with: its run and its configuration, as they read back from JSON."""
    return json.loads(json.dumps({"run": spec_dict(run), "config": config}))


def spec_dict(run):
    """A RunSpec as saved: its fields, those of a trace run (forget, trace_lr) only where set, so a run of another
    mode is saved as before trace runs existed."""
    return {k: v for k, v in run._asdict().items() if v is not None or k not in ("forget", "trace_lr")}
