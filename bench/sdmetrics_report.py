"""SDMetrics 0.32 on the same tables as our report, for bench/bench_report.py. Run with the ctgan peer venv.

  python bench/sdmetrics_report.py TRAIN.parquet SYNTHETIC.parquet HOLDOUT.parquet

Prints one JSON line: QualityReport score and properties, DCROverfittingProtection and
DCRBaselineProtection scores, and the seconds each took.
"""
import json
import sys
import time
import warnings

import pandas as pd
from sdmetrics.reports.single_table import QualityReport
from sdmetrics.single_table import DCRBaselineProtection, DCROverfittingProtection

warnings.filterwarnings("ignore")
train, synthetic, holdout = (pd.read_parquet(p) for p in sys.argv[1:4])
columns = {}
for name, dtype in train.dtypes.items():
    if pd.api.types.is_bool_dtype(dtype):
        columns[name] = {"sdtype": "boolean"}
    elif pd.api.types.is_numeric_dtype(dtype):
        columns[name] = {"sdtype": "numerical"}
    elif pd.api.types.is_datetime64_any_dtype(dtype):
        columns[name] = {"sdtype": "datetime"}
    else:
        columns[name] = {"sdtype": "categorical"}
metadata = {"columns": columns}
out = {"peer": "sdmetrics-0.32"}
t = time.perf_counter()
report = QualityReport()
report.generate(train, synthetic[train.columns], metadata, verbose=False)
props = report.get_properties().set_index("Property")["Score"]
out.update(quality=round(float(report.get_score()), 4), column_shapes=round(float(props["Column Shapes"]), 4),
           column_pair_trends=round(float(props["Column Pair Trends"]), 4),
           quality_s=round(time.perf_counter() - t, 2))
for name, metric, kwargs in (("dcr_overfitting_protection", DCROverfittingProtection,
                              {"real_validation_data": holdout}),
                             ("dcr_baseline_protection", DCRBaselineProtection, {})):
    t = time.perf_counter()
    try:  # the DCR metrics want multi-table metadata and a table name
        out[name] = round(float(metric.compute(train, synthetic[train.columns], metadata={"tables": {"t": metadata}},
                                               table_name="t", **kwargs)), 4)
    except Exception as e:  # report what happened rather than stop
        out[name] = f"failed: {type(e).__name__}: {str(e)[:200]}"
    out[f"{name}_s"] = round(time.perf_counter() - t, 2)
print(json.dumps(out))
