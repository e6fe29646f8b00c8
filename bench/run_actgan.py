"""Our ACTGAN on a Parquet table, timed the same way as ../shared/peers/peer_ctgan.py.

  python bench/run_actgan.py IN.parquet OUT.parquet --epochs N [--batch-size 500] [--threads 2]
      [--device cpu|cuda] [--amp] [--lr 2e-4] [--critic-steps 1] [--tail-transform auto|none]
      [--reuse-fakes on|off]

Prints one JSON line: transform_fit_s (TableTransformer.fit alone), fit_s (whole ACTGAN.fit),
sample_s, peak_rss_mb, and epoch_s_median: the model's own per-epoch wall time (median over
epochs 2..N, so CUDA warm-up and graph capture in epoch 1 are left out).
"""
import argparse
import json
import resource
import statistics
import time

import pyarrow.parquet as pq
import torch

from synth.tabular import ACTGAN, ACTGANConfig
from synth.training import WGANConfig
from synth.transforms import TableTransformer
from synth.transforms.tails import Tail

p = argparse.ArgumentParser()
p.add_argument("input")
p.add_argument("output")
p.add_argument("--epochs", type=int, required=True)
p.add_argument("--batch-size", type=int, default=500)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--device", default="cpu")
p.add_argument("--amp", action="store_true")
p.add_argument("--lr", type=float, default=2e-4)
p.add_argument("--critic-steps", type=int, default=1)
p.add_argument("--tail-transform", choices=["auto", "none"], default="auto")
p.add_argument("--reuse-fakes", choices=["on", "off"], default="off")
a = p.parse_args()

torch.set_num_threads(a.threads)
table = pq.read_table(a.input)
t = time.perf_counter()
TableTransformer(seed=a.seed, tail=a.tail_transform).fit(table)
t_tf = time.perf_counter() - t
config = ACTGANConfig(seed=a.seed, tail_transform=Tail(a.tail_transform), training=WGANConfig(
    epochs=a.epochs, batch_size=a.batch_size, device=a.device, amp=a.amp,
    generator_lr=a.lr, critic_lr=a.lr, critic_steps=a.critic_steps, reuse_fakes=a.reuse_fakes == "on"))
t = time.perf_counter()
model = ACTGAN(config).fit(table)
if a.device.startswith("cuda"):
    torch.cuda.synchronize()
t_fit = time.perf_counter() - t
t = time.perf_counter()
synthetic = model.sample_table(table.num_rows)
t_s = time.perf_counter() - t
pq.write_table(synthetic, a.output)
print(json.dumps({"model": "prefect-synth-actgan", "rows": table.num_rows, "epochs": a.epochs,
                  "batch_size": a.batch_size, "device": a.device, "amp": a.amp, "tail_transform": a.tail_transform,
                  "scales": model.transformer_.scales(),
                  "transform_fit_s": round(t_tf, 3), "fit_s": round(t_fit, 3), "sample_s": round(t_s, 3),
                  "epoch_s": [round(s.seconds, 4) for s in model.history_],
                  "epoch_s_median": round(statistics.median(s.seconds for s in model.history_[1:] or model.history_), 4),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
