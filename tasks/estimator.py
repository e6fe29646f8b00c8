"""The run config's `model` section as an unfitted synth model.

`run`'s preflight and `prefect-synth check` build the model here before any server starts, and the
train step (`tasks.train`) trains the same one: one conversion for both.
"""
from __future__ import annotations

from tasks.config import ActganModelConfig, DganModelConfig
from synth.models import model_class
from synth.transforms.tails import Tail
from synth.training import Lipschitz, WGANConfig


def wgan_config(model: ActganModelConfig | DganModelConfig) -> WGANConfig:
    t = model.training
    # Adam: CTGAN's β = (0.5, 0.9) with weight decay 1e-6; DoppelGANger's β = (0.5, 0.999), none
    adam = (dict(betas=(0.5, 0.999), generator_weight_decay=0.0, critic_weight_decay=0.0)
            if model.kind == "dgan" else {})
    return WGANConfig(epochs=model.epochs, batch_size=t.batch_size, critic_steps=t.critic_steps,
                      generator_steps=t.generator_steps, generator_lr=t.generator_lr, critic_lr=t.critic_lr,
                      lipschitz=Lipschitz(t.lipschitz), gp_lambda=t.gp_lambda, clip_value=t.clip_value,
                      device=t.device, amp=t.amp, max_minutes=t.max_minutes,
                      max_critic_grad_norm=t.max_critic_grad_norm, eval_every=t.eval_every,
                      patience=t.patience, validation_fraction=t.validation_fraction,
                      ema_decay=t.ema_decay, reuse_fakes=t.reuse_fakes, generator_first=t.generator_first, **adam)


def synth_model(model: ActganModelConfig | DganModelConfig):
    """The unfitted synth model a run's `model` section describes.

    Raises:
        ConfigError: a setting the model refuses (e.g. a batch size that is not a multiple of pac).
    """
    cls = model_class(model.kind)
    if model.kind == "actgan":
        from synth.tabular import ACTGANConfig
        from synth.tabular.conditions import ConditionMode

        return cls(ACTGANConfig(embedding_dim=model.embedding_dim, generator_dims=tuple(model.generator_dims),
                                critic_dims=tuple(model.critic_dims), pac=model.pac,
                                conditioning=ConditionMode(model.conditioning),
                                reconstruction_loss_coef=model.reconstruction_loss_coef,
                                binary_encoder_cutoff=model.binary_encoder_cutoff,
                                mixture_fit_rows=model.mixture_fit_rows, point_mass_min_share=model.point_mass_min_share,
                                max_point_masses=model.max_point_masses, tail_transform=Tail(model.tail_transform),
                                column_transforms={name: Tail(kind) for name, kind in model.column_transforms.items()},
                                seed=model.seed, training=wgan_config(model)))
    if model.kind == "dgan":
        from synth.timeseries import DGANConfig, FeatureEncoding, Normalization

        return cls(DGANConfig(
            layout=model.layout, example_id=model.example_id, time_column=model.time_column,
            attribute_columns=tuple(model.attribute_columns), feature_columns=tuple(model.feature_columns),
            max_sequence_len=model.max_sequence_len, sample_len=model.sample_len,
            split_sequences=model.split_sequences, max_gap=model.max_gap,
            feature_encoding=FeatureEncoding(model.feature_encoding),
            normalization=Normalization(model.normalization), apply_feature_scaling=model.apply_feature_scaling,
            apply_example_scaling=model.apply_example_scaling, binary_encoder_cutoff=model.binary_encoder_cutoff,
            attribute_noise_dim=model.attribute_noise_dim, feature_noise_dim=model.feature_noise_dim,
            attribute_num_layers=model.attribute_num_layers, attribute_num_units=model.attribute_num_units,
            feature_num_layers=model.feature_num_layers, feature_num_units=model.feature_num_units,
            critic_num_layers=model.critic_num_layers, critic_num_units=model.critic_num_units,
            use_attribute_critic=model.use_attribute_critic, attribute_gp_lambda=model.attribute_gp_lambda,
            attribute_loss_coef=model.attribute_loss_coef, point_mass_min_share=model.point_mass_min_share,
            max_point_masses=model.max_point_masses, tail_transform=Tail(model.tail_transform),
            column_transforms={name: Tail(kind) for name, kind in model.column_transforms.items()},
            seed=model.seed, training=wgan_config(model)))
    raise AssertionError(f"unhandled model kind {model.kind}")  # model_class already refused it
