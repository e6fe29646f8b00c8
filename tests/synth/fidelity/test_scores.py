"""A report score is its metric plus one entry in synth/fidelity/scores.py: a score added that way (in a
child process, so the registry here stays as it is) is computed for every side, kept as its own
section, and shown by the summary, the HTML's score table and `compare`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.support.pipeline import REPO

TOY_METRIC = textwrap.dedent('''
    def rows_ratio(real, other, encoder, seed=0):
        """How close the side's row count is to the real one's (a learned section's shape of result)."""
        score = min(len(real), len(other)) / max(len(real), len(other))
        return {"score": score, "score_ci": [score, score], "rows": len(other)}
''')

ADD_SCORE = textwrap.dedent('''
    import json, sys
    import numpy as np, pandas as pd, pyarrow as pa
    import synth.fidelity.scores as scores

    scores.SCORES += (scores.Score("rows_ratio", "row-count ratio", "ratio", section="toy_metric:rows_ratio"),)
    scores.EVERY_REPORT, scores.HEADLINE, scores.LABELS, scores.LEARNED = scores.views(scores.SCORES)

    from flows.compare import SCORES as COMPARED
    from synth.fidelity.render import render_html
    from synth.fidelity.render.text import summary_text
    from synth.fidelity.report import fidelity_report
    from synth.schema import schema_specs

    rng = np.random.default_rng(0)
    def frame(n):
        return pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b"], n)})
    real, synthetic, holdout = frame(400), frame(200), frame(100)
    specs = schema_specs(pa.Table.from_pandas(real, preserve_index=False).schema)
    report = fidelity_report(real, synthetic, specs, holdout, bootstrap=0)
    html = render_html(report, real, synthetic, specs)
    print(json.dumps({"score": report["scores"]["rows_ratio"], "summary": report["summary"]["rows_ratio"],
                      "section": report["rows_ratio"], "html": "row-count ratio" in html,
                      "text": "ratio" in summary_text(report), "compare": "rows_ratio" in COMPARED}))
''')


def test_a_score_added_as_its_metric_and_one_registry_entry_reaches_every_reader(tmp_path):
    (tmp_path / "toy_metric.py").write_text(TOY_METRIC)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path)])}
    done = subprocess.run([sys.executable, "-c", ADD_SCORE], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["score"] == {"synthetic": 0.5, "ci_low": 0.5, "ci_high": 0.5, "holdout": 0.25,
                               "independent": 0.5}  # independent columns: as many rows as the synthetic side
    assert result["summary"] == 0.5
    assert result["section"]["holdout"]["rows"] == 100
    assert result["html"] and result["text"] and result["compare"]
