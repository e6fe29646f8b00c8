"""sdv-dev CTGAN 0.12.1 with each epoch timed: run with the `ctgan` peer venv.

  python bench/peer_ctgan_timed.py IN.parquet --epochs N [--batch-size 500] [--threads 2] [--seed 0]

CTGAN has no epoch callback; its fit loop iterates `tqdm(range(epochs))`, so the module's `tqdm` is
replaced by an iterator that notes the clock as each epoch starts. Prints one JSON line with
`epoch_s` (every epoch's wall time) and `epoch_s_median` (over epochs 2..N, like bench/run_actgan.py).
Discrete columns: string, categorical and bool columns, as in ../shared/peers/peer_ctgan.py.
"""
import argparse
import json
import statistics
import time

import pandas as pd
import torch
from ctgan import CTGAN
from ctgan.synthesizers import ctgan as ctgan_module


class _Clock:
    def __init__(self, iterable, **_):
        self.iterable, self.ticks = iterable, []

    def __iter__(self):
        for item in self.iterable:
            self.ticks.append(time.perf_counter())
            yield item
        self.ticks.append(time.perf_counter())

    def set_description(self, *_, **__):
        pass


clocks: list[_Clock] = []
ctgan_module.tqdm = lambda iterable, **kw: clocks.append(_Clock(iterable, **kw)) or clocks[-1]

p = argparse.ArgumentParser()
p.add_argument("input")
p.add_argument("--epochs", type=int, required=True)
p.add_argument("--batch-size", type=int, default=500)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
torch.set_num_threads(a.threads)
df = pd.read_parquet(a.input)
discrete = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c]) or df[c].dtype == bool]
model = CTGAN(epochs=a.epochs, batch_size=a.batch_size, verbose=False)
model.set_random_state(a.seed)
model.fit(df, discrete)
ticks = clocks[-1].ticks
epochs = [b - t for t, b in zip(ticks, ticks[1:])]
print(json.dumps({"peer": "ctgan-0.12.1", "epochs": a.epochs, "epoch_s": [round(s, 4) for s in epochs],
                  "epoch_s_median": round(statistics.median(epochs[1:] or epochs), 4)}))
