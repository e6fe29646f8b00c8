"""The nightly synthetic refresh on Apache Airflow 3: an Airflow provider around the same pipeline steps
(`tasks/`) that the Prefect flow runs.

Airflow finds it through the `apache_airflow_provider` entry point (`get_provider_info`). It imports
nothing heavy at DAG-parse time: the operator's module imports only Airflow's task SDK, and the
pipeline (torch, MLflow, Great Expectations) is imported when a task runs.
"""
from __future__ import annotations

__all__ = ["get_provider_info"]

MIN_AIRFLOW = (3, 3)


def _check_airflow_version() -> None:
    """Refuse an Airflow older than the one this provider is built for, by name, when the provider is
    loaded (Airflow shows the message as the DAG's import error). Without Airflow installed nothing is
    checked: the run config's schema (`synth_airflow.params`) is also generated outside Airflow."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("apache-airflow")
    except PackageNotFoundError:
        return
    release = tuple(int(part) for part in installed.split(".")[:2] if part.isdigit())
    if release < MIN_AIRFLOW:
        wanted = ".".join(map(str, MIN_AIRFLOW))
        raise RuntimeError(f"the synthetic refresh provider needs Apache Airflow {wanted} or newer, and this is "
                           f"Airflow {installed}: upgrade Airflow, or install the provider where Airflow {wanted} is "
                           f"(pip install 'prefect-synth[airflow]')")


_check_airflow_version()


def get_provider_info() -> dict:
    """What `airflow providers list` shows, and the operator, hooks and links Airflow registers."""
    return {
        "package-name": "prefect-synth",  # must equal the distribution's name (Airflow checks)
        "name": "Synthetic refresh",
        "description": "Nightly synthetic copies of Parquet data (ACTGAN, DoppelGANger), tracked in MLflow, "
                       "published only past a quality gate.",
        "integrations": [{"integration-name": "Synthetic refresh", "external-doc-url":
                          "https://github.com/prefect-synth/prefect-synth#on-airflow", "tags": ["software"]}],
        "operators": [{"integration-name": "Synthetic refresh", "python-modules": ["synth_airflow.operators"]}],
        "hooks": [{"integration-name": "Synthetic refresh", "python-modules": ["synth_airflow.hooks"]}],
        "connection-types": [
            {"connection-type": "synth_mlflow", "hook-class-name": "synth_airflow.hooks.MlflowTrackingHook",
             "hook-name": "MLflow tracking (synthetic refresh)",
             "ui-field-behaviour": {"hidden-fields": ["schema", "port", "extra"],
                                    "relabeling": {"host": "Tracking URI", "login": "Username"},
                                    "placeholders": {"host": "http://mlflow:5000"}}},
        ],
        "extra-links": ["synth_airflow.operators.MlflowRunLink", "synth_airflow.operators.ReportLink"],
    }
