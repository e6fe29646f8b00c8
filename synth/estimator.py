"""The model base: the fit, resume, save, load and sample scaffold every WGAN model shares.

    class ACTGAN(WGANEstimator):
        kind, config_type, transformer_type = "actgan", ACTGANConfig, TableTransformer
        def _prepare(self, table): ...           # check the data; the validation split and the training data
        def _fit_transformer(self, training): ...
        def _encode(self, training): ...         # the training data as tensors
        def _build(self): ...                    # networks from the config and the fitted transform
        def _game(self, training, encoded, rng): ...   # the adversarial game train_wgan plays (its critics)
        def _scorer(self, split): ...            # model selection's score on the held-back data
        def _sample(self, n, seed, conditions): ...    # n units (rows, sequences) as an Arrow table
        def _fitted_state(self): ...; def _load_fitted_state(self, doc): ...   # beyond the transform

The public methods (`fit`, `sample`, `sample_table`, `save`, `load`) check state and run the steps
in one order; a kind implements only the private steps above. Learned state ends in `_`: a model is
fitted once it has a `generator_`. Randomness comes from the config's seed only: the training
generator `rng` for every draw of the loop, the default torch generator (forked, seeded) for weight
initialization and dropout, and a fresh generator per `sample` call.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, Callable, Self, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from synth import selection as model_selection
from synth.checkpoint import Checkpointing, Checkpoints
from synth.device import resolve_device
from synth.errors import ConfigError
from synth.tables import as_table
from synth.selection import ModelSelection, Scorer, Split
from synth.serialization import config_from_dict, config_to_dict, load_state, read_model, save_model, saved_state
from synth.training import EpochStats, TrainingState, WGANProblem, stopped_early, train_wgan


class WGANEstimator:
    """Base of the WGAN models: `Model(config)`, `fit(data) -> self`, `sample(n, ...)`, `save`, `load`."""

    kind: str              # the registry's name (synth.models.KINDS), written into saved models
    config_type: type      # the settings dataclass (synth.configs)
    transformer_type: Any  # the fitted encoding: `fit(training)`, `state()`, `from_state(state)`
    count_name = "n"       # how a refused count is named: the kind's own word for it ("num_rows")

    def __init__(self, config: Any = None):
        self.config = self.config_type() if config is None else config

    # -- fit -----------------------------------------------------------------------------------------
    def fit(self, data: pa.Table | pd.DataFrame, callback: Callable[[EpochStats], None] | None = None,
            checkpoint: Checkpointing | None = None,
            progress: Callable[[int, int, int], None] | None = None) -> Self:
        """Learn `data`. `callback` receives each epoch's diagnostics, `progress` (epoch, step, steps) each step.

        With `checkpoint`, a checkpoint is written every `checkpoint.every` epochs, and a fit whose
        directory holds one of the same settings and data resumes from it (`resumed_from_` is its
        epoch, else None); `history_` covers every epoch. `stopped_early_` says why training ended
        before `training.epochs` (the time budget `training.max_minutes`, or model selection's
        `training.patience`), else None.

        With `training.eval_every`, a seeded `training.validation_fraction` of the data is held back,
        the generator is scored on it every `eval_every` epochs (synth.selection) and the best-scoring
        state is kept: `selected_epoch_` is its epoch, `validation_history_` the (epoch, score) pairs;
        with `training.ema_decay` the moving average of the weights is a candidate too (`selected_average_`;
        `validation_candidates_` holds (epoch, weights' score, average's score)).

        Raises:
            TrainingDiverged: a NaN/Inf loss or an exploding critic gradient; the last good
                checkpoint is kept.
        """
        started = time.monotonic()
        table = as_table(data)
        split, training = self._prepare(table)
        self.stopped_early_ = None
        model_selection.finish(self, None)
        checkpoints = Checkpoints.for_fit(checkpoint, self, table)  # keyed by the whole data, as given
        self._fit_or_resume_transformer(checkpoints, training)
        encoded = self._encode(training)
        device = self.device_
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(self.config.seed)  # weight init and dropout; every other draw uses `rng`
            rng = torch.Generator(device=device).manual_seed(self.config.seed)
            self._build()
            game = self._game(training, encoded, rng)
            selection = self._selection(split) if split is not None else None
            state = self._restore(checkpoints, game, rng, selection)
            self.history_ = train_wgan(game, self.config.training, device, rng, callback, progress=progress,
                                       resume=state, checkpoints=checkpoints, started=started, selection=selection)
        model_selection.finish(self, selection)
        self.stopped_early_ = stopped_early(self.config.training, self.history_, selection)
        return self

    def _resolve_device(self) -> None:
        """`device_` from `training.device`: the kinds call it from `_prepare`, where their checks allow."""
        self.device_ = resolve_device(self.config.training.device)

    def _fit_or_resume_transformer(self, checkpoints: Checkpoints | None, training: Any) -> None:
        """`transformer_`, fitted on `training`, or a resumed checkpoint's: exactly the encoding its weights learned."""
        resumed = checkpoints.resume(self.config.training.epochs) if checkpoints else None
        self.resumed_from_ = resumed.epoch if resumed else None
        if resumed:
            with saved_state(resumed.path, self.kind):
                self.transformer_ = self.transformer_type.from_state(resumed.model["transformer"])
        else:
            self.transformer_ = self._fit_transformer(training)

    def _selection(self, split: Split) -> ModelSelection:
        t = self.config.training
        return ModelSelection(self._scorer(split), lambda n, seed: self._sample(n, seed, None), self.generator_,
                              t.eval_every, t.patience, t.ema_decay)

    def _restore(self, checkpoints: Checkpoints | None, game: WGANProblem, rng: torch.Generator,
                 selection: ModelSelection | None) -> TrainingState | None:
        """Bind the checkpoints to this fit; a resumed fit gets its weights, RNG and selection state back."""
        if checkpoints is None:
            return None
        state = checkpoints.start(self, [critic.network for critic in game.critics], rng)
        if selection is not None and state is not None and state.selection is not None:
            selection.load_state_dict(state.selection)
        return state

    # -- sample --------------------------------------------------------------------------------------
    def sample_table(self, n: int, seed: int | None = None, conditions: dict[str, Any] | None = None) -> pa.Table:
        """`n` synthetic units (ACTGAN: rows; DGAN: sequences) with the training data's exact schema.

        `conditions` ({"column": value}) makes every unit meet them exactly (ACTGAN: the columns its
        conditioning allows; DGAN: attribute columns). The same seed gives the same output; without
        one, the config's seed.
        """
        self._check_fitted()
        if n < 1:
            raise ConfigError(f"{self.count_name}={n}: must be at least 1")
        return self._sample(n, self._seed(seed), conditions)

    def sample(self, n: int, seed: int | None = None, conditions: dict[str, Any] | None = None) -> pd.DataFrame:
        """`sample_table`'s units as a pandas DataFrame."""
        return self.sample_table(n, seed, conditions).to_pandas()

    def _seed(self, seed: int | None) -> int:
        return self.config.seed if seed is None else seed

    def _sampling_rng(self, seed: int) -> torch.Generator:
        return torch.Generator(device=self.device_).manual_seed(seed)

    @contextlib.contextmanager
    def _evaluating(self):
        """The generator in eval mode (batch norm with its running statistics), back in train mode after."""
        self.generator_.eval()
        try:
            yield
        finally:
            self.generator_.train()

    @torch.no_grad()
    def _in_batches(self, n: int, draw: Callable[[int, int], Sequence[torch.Tensor]]) -> list[np.ndarray]:
        """`draw(start, size)` for each batch of at most `training.batch_size` of `n`, the generator
        evaluating; each of its outputs as float32 numpy, concatenated over the batches."""
        batch = self.config.training.batch_size
        with self._evaluating():
            parts = [[x.float().cpu().numpy() for x in draw(start, min(batch, n - start))]
                     for start in range(0, n, batch)]
        return [np.concatenate(outputs) for outputs in zip(*parts)]

    # -- persistence ---------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Config, fitted state and diagnostics as JSON; generator weights as safetensors. No pickle."""
        self._check_fitted()
        meta = {"config": config_to_dict(self.config), **self._fitted_state(),
                "history": [{"epoch": s.epoch, **s.as_dict()} for s in self.history_],
                "stopped_early": getattr(self, "stopped_early_", None), **model_selection.saved(self)}
        return save_model(directory, self.kind, meta, {"generator": self.generator_})

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> Self:
        """Load a saved model (on the CPU by default, wherever it was trained); never unpickles."""
        doc, tensors = read_model(directory, cls.kind)
        with saved_state(directory, cls.kind):
            self = cls(config_from_dict(cls.config_type, doc["config"]))
            self.device_ = resolve_device(device)
            self._load_fitted_state(doc)
            self._build()
            load_state(self.generator_, tensors, "generator")
            self.history_ = [EpochStats(**h) for h in doc.get("history", [])]
            self.stopped_early_ = doc.get("stopped_early")
            model_selection.load_saved(self, doc)
        return self

    def _fitted_state(self) -> dict:
        """What a saved model keeps besides config, weights and diagnostics, as JSON-ready data."""
        return {"transformer": self.transformer_.state()}

    def _load_fitted_state(self, doc: dict) -> None:
        """Set what `_fitted_state` saved (everything `_build` needs)."""
        self.transformer_ = self.transformer_type.from_state(doc["transformer"])

    def _check_fitted(self) -> None:
        if not hasattr(self, "generator_"):
            name = type(self).__name__
            raise RuntimeError(f"this {name} is not fitted yet: call fit() or {name}.load()")

    # -- what each kind implements -------------------------------------------------------------------
    def _prepare(self, table: pa.Table) -> tuple[Split | None, Any]:
        """Check the data, set `device_` and the fitted attributes the data decides; return the
        validation split (with `training.eval_every`, else None) and the training data."""
        raise NotImplementedError

    def _fit_transformer(self, training: Any) -> Any:
        """A new transformer fitted on the training data."""
        raise NotImplementedError

    def _encode(self, training: Any) -> Any:
        """The training data through the fitted transformer, as tensors on `device_`."""
        raise NotImplementedError

    def _build(self) -> None:
        """The networks and layouts derived from the config and the fitted state (`generator_` last)."""
        raise NotImplementedError

    def _game(self, training: Any, encoded: Any, rng: torch.Generator) -> WGANProblem:
        """The adversarial game for `train_wgan` (builds the critics)."""
        raise NotImplementedError

    def _scorer(self, split: Split) -> Scorer:
        """Model selection's score on the held-back data."""
        raise NotImplementedError

    def _sample(self, n: int, seed: int, conditions: dict[str, Any] | None) -> pa.Table:
        """`n` units from a fitted model (checked), drawn from `seed` alone."""
        raise NotImplementedError
