"""The offline and online experiments' configurations as types (experiments/figures/{offline,online}/config.py:
OfflineConfig, OnlineConfig): the same JSON as the dicts they are made from, checked once when read, a wrong value
refused in one line before any work."""
import json

import pytest

from shb.experiments.figures import offline, online
from shb.experiments.figures.offline.config import CONFIGS as OFFLINE, OfflineConfig
from shb.experiments.figures.online.config import CONFIGS as ONLINE, OnlineConfig, config_for
from shb.ground.errors import InputError


@pytest.mark.parametrize("scale", sorted(OFFLINE))
def test_an_offline_configuration_is_the_json_of_its_dict(scale):
    # Catches a configuration type that writes other JSON than the dict it replaces (offline.json, progress).
    assert json.dumps(OfflineConfig(OFFLINE[scale])) == json.dumps(OFFLINE[scale])


@pytest.mark.parametrize("scale", sorted(ONLINE))
def test_an_online_configuration_is_the_json_of_its_dict(scale):
    assert json.dumps(OnlineConfig(ONLINE[scale])) == json.dumps(ONLINE[scale])
    assert json.dumps(config_for(scale, net="mlp")) == json.dumps(ONLINE[scale])  # the MLP changes nothing


@pytest.mark.parametrize("change, words", [
    (dict(horizons=[15, 5]), "horizons must be two or more increasing horizons"),
    (dict(horizons=[5]), "horizons must be two or more increasing horizons"),
    (dict(meta_steps={"5": 6}), "meta_steps has no key '15'"),
    (dict(stop_window={"7": 2}), "stop_window has the unexpected key '7'"),
    (dict(surface_starts=[20]), "surface_starts must be a list of horizons"),
    (dict(alpha0_range=[1.0, 1e-3]), "alpha0_range must be a range [low, high] with low < high"),
    (dict(mu=1.0), "mu must be a number in [0, 1)"),
    (dict(batch_size=0), "batch_size must be an integer from 1 up"),
    (dict(curve_dtype="float16"), "unknown curve_dtype 'float16'"),
    (dict(net="resnet"), "unknown network 'resnet'"),
    (dict(net="cnn"), "it has no key 'cnn_filters'"),
    (dict(surprise=1), "'surprise' is not one of its keys"),
    (dict(dask="yes"), "dask must be true or false"),
], ids=lambda v: str(v)[:30])
def test_a_wrong_offline_configuration_is_one_line_naming_the_key(change, words):
    with pytest.raises(InputError) as err:
        OfflineConfig(dict(OFFLINE["tiny"], **change))
    message = str(err.value)
    assert message.startswith("the offline configuration: ") and words in message and "\n" not in message


@pytest.mark.parametrize("change, words", [
    (dict(audit_step=7), "audit_step 7 must be a logged step"),
    (dict(mu0=1.0), "mu0 must be a number in [0, 1)"),
    (dict(init_lrs=[]), "init_lrs must be one initial learning rate or more"),
    (dict(one_minus_mu_bounds=[1e-4, 2.0]), "one_minus_mu_bounds must be bounds"),
    (dict(adapt_steps=41), "adapt_steps must be an integer from 0 to 40"),
    (dict(cnn_filters=[2, 0, 2]), "cnn_filters[1] must be an integer from 1 up"),
    (dict(steps="40"), "steps must be an integer from 1 up"),
    (dict(audit_step="10"), "audit_step must be an integer from 0 up"),
    (dict(cnn_hidden=0), "cnn_hidden must be an integer from 1 up"),
    (dict(hidden_sizes=[6, -1]), "hidden_sizes[1] must be an integer from 1 up"),
    (dict(surprise=1), "'surprise' is not one of its keys"),
], ids=lambda v: str(v)[:30])
def test_a_wrong_online_configuration_is_one_line_naming_the_key(change, words):
    with pytest.raises(InputError) as err:
        OnlineConfig(dict(ONLINE["tiny"], **change))
    message = str(err.value)
    assert message.startswith("the online configuration: ") and words in message and "\n" not in message


def test_a_run_checks_its_configuration_before_any_work(tmp_path, data_dir):
    # Catches a run that starts (and writes) before its configuration is checked.
    with pytest.raises(InputError, match="the offline configuration: mu must be"):
        offline.run(str(tmp_path / "off"), dict(OFFLINE["tiny"], mu=1.5), data_dir=data_dir, log=lambda line: None)
    with pytest.raises(InputError, match="the online configuration: mu0 must be"):
        online.run(str(tmp_path / "on"), dict(ONLINE["tiny"], mu0=1.5), net="mlp", data_dir=data_dir)
    assert list(tmp_path.iterdir()) == []
