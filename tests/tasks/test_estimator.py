"""The run config's `model` section becomes the library's settings by name, with the library's defaults."""
import subprocess
import sys

import pytest

from synth.configs import ACTGANConfig, DGANConfig, config_to_dict
from synth.errors import ConfigError
from synth.models import KINDS, model_kind
from tasks.kinds.actgan import ActganModelConfig
from tasks.kinds.base import TrainingConfig
from tasks.kinds.dgan import DGAN_TRAINING_DEFAULTS, DganModelConfig
from tasks.estimator import RUN_ONLY, RUN_ONLY_TRAINING, settings, synth_model

SERIES = dict(example_id="station_day", time_column="hour")


def _shared(run: dict, library: dict) -> dict:
    """The run values of every key the run config shares with the library."""
    return {k: v for k, v in run.items() if k in library}


@pytest.mark.parametrize("run", [ActganModelConfig(), DganModelConfig(**SERIES)], ids=["actgan", "dgan"])
def test_defaults_are_the_librarys(run):
    """A run config left at its defaults is the library's default model (training included), apart
    from what the run sets on purpose (DGAN's series columns; ACTGAN's model selection)."""
    library = config_to_dict(model_kind(run.kind).defaults())
    got = config_to_dict(settings(run))
    if run.kind == "actgan":
        assert got["training"].pop("eval_every") == 5 and library["training"].pop("eval_every") == 0
    else:
        assert got.pop("example_id") == "station_day" and got.pop("time_column") == "hour"
        library.pop("example_id"), library.pop("time_column")
    assert got == library


def test_every_run_key_reaches_the_library():
    """Every key of the run config's model and training sections is a setting of the library (under the
    same name) or one the pipeline keeps for itself; none is dropped on the way."""
    for cls, library in ((ActganModelConfig, ACTGANConfig), (DganModelConfig, DGANConfig)):
        names = {f for f in library.__dataclass_fields__}
        assert set(cls.model_fields) - RUN_ONLY <= names, cls
    training = set(TrainingConfig.model_fields) - RUN_ONLY_TRAINING
    assert training <= set(ACTGANConfig().training.__dataclass_fields__)


def test_changed_values_arrive():
    run = ActganModelConfig(epochs=7, pac=5, generator_dims=[64, 32], conditioning="anyway", tail_transform="none",
                            column_transforms={"price": "log"}, max_point_masses=2,
                            training={"batch_size": 100, "critic_lr": 1e-3, "lipschitz": "weight_clipping",
                                      "ema_decay": 0.5, "reuse_fakes": True, "checkpoint_every": 3})
    got = settings(run)
    assert (got.pac, got.generator_dims, got.conditioning.value, got.tail_transform.value) == (5, (64, 32), "anyway",
                                                                                             "none")
    assert got.column_transforms["price"].value == "log" and got.max_point_masses == 2
    t = got.training
    assert (t.epochs, t.batch_size, t.critic_lr, t.lipschitz.value, t.ema_decay, t.reuse_fakes) == \
        (7, 100, 1e-3, "weight_clipping", 0.5, True)
    assert t.eval_every == 5  # the run config's rule for epochs ≥ 5

    dgan = settings(DganModelConfig(**SERIES, sample_len=4, feature_encoding="modes", training={"critic_steps": 3}))
    assert (dgan.sample_len, dgan.feature_encoding.value, dgan.training.critic_steps) == (4, "modes", 3)
    # a training section that sets some keys keeps DGAN's own defaults for the rest, Adam β included
    assert dgan.training.batch_size == DGANConfig().training.batch_size == DGAN_TRAINING_DEFAULTS["batch_size"]
    assert dgan.training.betas == (0.5, 0.999) and dgan.training.generator_weight_decay == 0.0


def test_the_model_refuses_what_the_form_allows():
    with pytest.raises(ConfigError, match="not a multiple of pac=10"):
        synth_model(ActganModelConfig(training={"batch_size": 105}))


def test_unknown_names_and_kinds_are_refused():
    with pytest.raises(ValueError, match="no such setting nope in ACTGANConfig"):
        model_kind("actgan").settings({"nope": 1})
    with pytest.raises(ValueError, match="no such setting checkpoint_every in WGANConfig"):
        model_kind("dgan").settings({"training": {"checkpoint_every": 1}})
    with pytest.raises(ConfigError, match="model.kind='vae': unknown model kind .expected one of actgan, dgan"):
        model_kind("vae")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_registry_builds_each_kind(kind):
    entry = model_kind(kind)
    model = entry.estimator()(entry.defaults())
    assert model.kind == kind and type(model).__name__ == {"actgan": "ACTGAN", "dgan": "DGAN"}[kind]


def test_steps_per_epoch_as_the_models_count():
    actgan, dgan = model_kind("actgan"), model_kind("dgan")
    assert actgan.steps_per_epoch(1_049, 500) == 2 and actgan.batch(100, 500) == 500
    assert dgan.batch(100, 256) == 100 and dgan.steps_per_epoch(100, 256) == 1
    assert dgan.steps_per_epoch(1_000, 256) == 4  # round(1000 / 256)


def test_settings_and_run_config_import_without_torch():
    code = ("import sys; import tasks.config, synth.models, synth.configs; "
            "print(sorted(m for m in ('torch', 'scipy', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
