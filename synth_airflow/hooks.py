"""Where a refresh's MLflow server and object store come from: Airflow connections, else the worker's
environment. Never from DAG code: a DAG names connection ids only.

The pipeline reads its servers from the environment (MLFLOW_TRACKING_URI, AWS_*), so each hook turns
its connection into those variables for the one task process that runs a refresh. Airflow masks a
connection's password in task logs once it has been read; the values set here are never logged,
pushed to XCom or rendered.
"""
from __future__ import annotations

from airflow.sdk.exceptions import AirflowNotFoundException
from airflow.sdk import BaseHook


class MissingConnection(LookupError):
    """A connection the DAG names explicitly is not defined."""


class _EnvironmentHook(BaseHook):
    """A connection that becomes environment variables. The default connection may be left undefined
    (`environment()` is then {}, and the worker's own environment applies); a connection the DAG names
    by another id must exist."""

    def __init__(self, conn_id: str | None = None):
        super().__init__()
        setattr(self, self.conn_name_attr, conn_id or self.default_conn_name)

    def _connection(self):
        conn_id = getattr(self, self.conn_name_attr)
        try:
            return BaseHook.get_connection(conn_id)
        except AirflowNotFoundException:
            if conn_id == self.default_conn_name:
                return None  # the default, not defined: the worker's own environment applies
            raise MissingConnection(
                f"Airflow connection '{conn_id}' ({self.hook_name}) is not defined: add it under Admin > "
                f"Connections, or as the environment variable AIRFLOW_CONN_{conn_id.upper()}") from None


class MlflowTrackingHook(_EnvironmentHook):
    """An MLflow tracking server as an Airflow connection (type `synth_mlflow`): host is the tracking
    URI (`http://mlflow:5000`, or a store such as `sqlite:////data/mlflow.db`), login and password the
    server's basic-auth user, if it has one."""

    conn_name_attr = "mlflow_conn_id"
    default_conn_name = "synth_mlflow"
    conn_type = "synth_mlflow"
    hook_name = "MLflow tracking (synthetic refresh)"

    def environment(self) -> dict[str, str]:
        """MLFLOW_TRACKING_URI (and the basic-auth user) of the connection; {} when it is not defined."""
        conn = self._connection()
        if conn is None:
            return {}
        uri = conn.host or ""
        if conn.conn_type == "synth_mlflow" and conn.port and "://" in uri and uri.count(":") < 2:
            uri = f"{uri}:{conn.port}"
        env = {"MLFLOW_TRACKING_URI": uri} if uri else {}
        if conn.login:
            env["MLFLOW_TRACKING_USERNAME"] = conn.login
        if conn.password:
            env["MLFLOW_TRACKING_PASSWORD"] = conn.password
        return env


class ObjectStoreHook(_EnvironmentHook):
    """An S3-compatible object store as an Airflow connection of the usual `aws` type: login is the
    access key id, password the secret key; extra may hold `endpoint_url` (MinIO, a test server) and
    `region_name`."""

    conn_name_attr = "storage_conn_id"
    default_conn_name = "aws_default"
    conn_type = "aws"
    hook_name = "Object store (synthetic refresh)"

    def environment(self) -> dict[str, str]:
        """AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_DEFAULT_REGION of the connection;
        {} when it is not defined."""
        conn = self._connection()
        if conn is None:
            return {}
        extra = conn.extra_dejson or {}
        env = {"AWS_ACCESS_KEY_ID": conn.login, "AWS_SECRET_ACCESS_KEY": conn.password,
               "AWS_SESSION_TOKEN": extra.get("aws_session_token"), "AWS_ENDPOINT_URL": extra.get("endpoint_url"),
               "AWS_DEFAULT_REGION": extra.get("region_name")}
        return {key: str(value) for key, value in env.items() if value}

