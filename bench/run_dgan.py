"""Our DGAN on a long-format Parquet, timed the same way as ../shared/peers/peer_dgan.py.

  python bench/run_dgan.py IN.parquet OUT.parquet --epochs N [--batch-size 1000] [--lr 1e-3]
      [--critic-steps 1] [--threads 2] [--device cpu|cuda] [--amp] [--no-graphs]

Defaults are the weather data's columns and gretel's DGANConfig. Prints one JSON line: fit_s
(whole DGAN.fit), sample_s, epoch_s_median (the model's own per-epoch time over epochs 2..N)
and peak_rss_mb.
"""
import argparse
import json
import resource
import statistics
import time

import pyarrow.parquet as pq
import torch

from synth.timeseries import DGAN, DGANConfig
from synth.training import WGANConfig

p = argparse.ArgumentParser()
p.add_argument("input")
p.add_argument("output")
p.add_argument("--epochs", type=int, required=True)
p.add_argument("--example-id", default="station_day")
p.add_argument("--time", default="hour")
p.add_argument("--attributes", default="origin,month")
p.add_argument("--features", default="temp,dewp,humid,wind_speed,precip,visib")
p.add_argument("--max-seq-len", type=int, default=24)
p.add_argument("--sample-len", type=int, default=4)
p.add_argument("--batch-size", type=int, default=1000)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--critic-steps", type=int, default=1)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--device", default="cpu")
p.add_argument("--amp", action="store_true")
p.add_argument("--no-graphs", action="store_true")
a = p.parse_args()

torch.set_num_threads(a.threads)
table = pq.read_table(a.input)
config = DGANConfig(
    example_id=a.example_id, time_column=a.time, attribute_columns=tuple(a.attributes.split(",")),
    feature_columns=tuple(a.features.split(",")), max_sequence_len=a.max_seq_len, sample_len=a.sample_len,
    seed=a.seed, training=WGANConfig(epochs=a.epochs, batch_size=a.batch_size, generator_lr=a.lr, critic_lr=a.lr,
                                     critic_steps=a.critic_steps, betas=(0.5, 0.999), generator_weight_decay=0.0,
                                     critic_weight_decay=0.0, device=a.device, amp=a.amp,
                                     cuda_graphs=not a.no_graphs))
t = time.perf_counter()
model = DGAN(config).fit(table)
if a.device.startswith("cuda"):
    torch.cuda.synchronize()
t_fit = time.perf_counter() - t
t = time.perf_counter()
synthetic = model.generate()
t_s = time.perf_counter() - t
pq.write_table(synthetic, a.output)
print(json.dumps({"model": "prefect-synth-dgan", "examples": model.training_size_, "epochs": a.epochs,
                  "batch_size": a.batch_size, "lr": a.lr, "critic_steps": a.critic_steps, "device": a.device,
                  "amp": a.amp, "fit_s": round(t_fit, 3), "sample_s": round(t_s, 3),
                  "epoch_s_median": round(statistics.median(s.seconds for s in model.history_[1:] or model.history_), 4),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
