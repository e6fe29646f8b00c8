"""Profile ACTGAN training steps on diamonds: where the time goes, by operator.

  python bench/profile_actgan.py [--device cuda] [--amp] [--epochs 1]
"""
import argparse

import pyarrow.parquet as pq
import torch
from torch.profiler import ProfilerActivity, profile

from synth.tabular import ACTGAN, ACTGANConfig
from synth.training import WGANConfig

p = argparse.ArgumentParser()
p.add_argument("--data", default="data/diamonds.parquet")
p.add_argument("--device", default="cpu")
p.add_argument("--amp", action="store_true")
p.add_argument("--epochs", type=int, default=1)
a = p.parse_args()
table = pq.read_table(a.data)
ACTGAN(ACTGANConfig(training=WGANConfig(epochs=1, device=a.device, amp=a.amp))).fit(table)  # warm-up
activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if a.device.startswith("cuda") else [])
with profile(activities=activities) as prof:
    model = ACTGAN(ACTGANConfig(training=WGANConfig(epochs=a.epochs, device=a.device, amp=a.amp))).fit(table)
print(model.history_)
key = "self_cuda_time_total" if a.device.startswith("cuda") else "self_cpu_time_total"
print(prof.key_averages().table(sort_by=key, row_limit=25))
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
