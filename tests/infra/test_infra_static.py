"""Static checks of infra/: the compose stack, the Dockerfiles, the Kubernetes manifests and the k8s-gpu
work pool's base job template.

Nothing here starts a container or talks to a cluster (the project's machines have no Docker engine):
files are parsed and cross-checked, and the base job template goes through Prefect's own template code.
Three checks use an external tool only when it is installed and skip, saying why, when it is not:
`docker compose config`, `kubectl kustomize`, and prefect-kubernetes' job configuration class.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import subprocess
import uuid
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
COMPOSE_FILE = INFRA / "docker-compose.yml"
ENV_EXAMPLE = INFRA / ".env.example"
K8S_DIR = INFRA / "kubernetes"
TEMPLATE_FILE = K8S_DIR / "gpu-base-job-template.json"
CREATE_BUCKETS = INFRA / "minio" / "create-buckets.sh"
POLICY_DIR = INFRA / "minio" / "policies"  # the data bucket's policies, as createbuckets loads them
DEPLOYMENTS_FILE = REPO / "deployments" / "prefect.yaml"
CONSTRAINTS_FILE = REPO / "constraints.txt"

# Each Dockerfile under infra/ and the build context it is written for.
DOCKERFILES = {
    INFRA / "mlflow" / "Dockerfile": INFRA / "mlflow",
    INFRA / "worker" / "Dockerfile": REPO,
    INFRA / "worker" / "Dockerfile.cuda": REPO,
    INFRA / "airflow" / "Dockerfile": REPO,
}

REQUIRED_SERVICES = {"postgres", "minio", "createbuckets", "prefect-server", "mlflow", "worker"}
PUBLISHED_PORTS = {"postgres": {5432}, "minio": {9000, 9001}, "prefect-server": {4200}, "mlflow": {5000}}
WORK_POOLS = {"local-process": "process", "docker-pool": "docker", "k8s-gpu": "kubernetes"}
PREFECT_IMAGE = "prefecthq/prefect:3.8.8-python3.11"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|TOKEN", re.IGNORECASE)
# Compose variable references: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}.
VAR_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
DUMMY_ENV = {
    "POSTGRES_PASSWORD": "dummypassword1",
    "MINIO_ROOT_USER": "dummyroot",
    "MINIO_ROOT_PASSWORD": "dummyrootpassword",
    "AWS_ACCESS_KEY_ID": "dummykeyid",
    "AWS_SECRET_ACCESS_KEY": "dummysecretkey",
    "AIRFLOW_ADMIN_PASSWORD": "dummyadminpassword",
    "AIRFLOW_JWT_SECRET": "dummyjwtsecret",
    "PREFECT_AUTH_STRING": "dummyrunner:dummyprefectpassword",
    "MLFLOW_ADMIN_PASSWORD": "dummymlflowadmin",
    "MLFLOW_RUNNER_PASSWORD": "dummymlflowrunner",
    "MLFLOW_VIEWER_PASSWORD": "dummymlflowviewer",
    "MLFLOW_SECRET_KEY": "dummymlflowsecretkey",
    "MINIO_RUNNER_ACCESS_KEY": "dummyrunnerkey",
    "MINIO_RUNNER_SECRET_KEY": "dummyrunnersecret",
    "MINIO_VIEWER_ACCESS_KEY": "dummyviewerkey",
    "MINIO_VIEWER_SECRET_KEY": "dummyviewersecret",
}
# The data bucket's two MinIO users: the runner's pair goes to whatever runs refreshes, the viewer's to no service.
RUNNER_KEYS = ("MINIO_RUNNER_ACCESS_KEY", "MINIO_RUNNER_SECRET_KEY")
VIEWER_KEYS = ("MINIO_VIEWER_ACCESS_KEY", "MINIO_VIEWER_SECRET_KEY")
MINIO_ENDPOINT = "http://minio:9000"
AIRFLOW_COMPONENTS = {"airflow-api-server": "api-server", "airflow-scheduler": "scheduler",
                      "airflow-dag-processor": "dag-processor", "airflow-triggerer": "triggerer"}


# ---------------------------------------------------------------------------------------------------
# helpers


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict[str, dict[str, Any]]:
    return load_compose()["services"]


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose-style variable interpolation of one string; `$$` is a literal `$`."""
    def replace(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        value = env.get(name)
        if op in (":?", "?") and (value is None or (op == ":?" and value == "")):
            raise KeyError(f"required variable {name} is unset ({arg})")
        if op in (":-", "-") and (value is None or (op == ":-" and value == "")):
            return arg
        return value if value is not None else ""

    parts = text.split("$$")
    return "$".join(VAR_REF.sub(replace, part) for part in parts)


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


def resolved_environment(service: dict[str, Any]) -> dict[str, str]:
    return {k: interpolate(str(v), DUMMY_ENV) for k, v in environment(service).items()}


def argv(value: Any) -> list[str]:
    """A compose command/entrypoint (string or list) as a list of arguments."""
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def flag_value(args: list[str], flag: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def published_ports(service: dict[str, Any]) -> dict[int, int]:
    """{host port: container port} of a service's `ports` (short or long syntax)."""
    result: dict[int, int] = {}
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            result[int(interpolate(str(entry["published"]), {}))] = int(entry["target"])
            continue
        spec = interpolate(str(entry), {}).split("/")[0]
        fields = spec.rsplit(":", 2)
        if len(fields) == 1:
            continue  # container port only: not published on a fixed host port
        result[int(fields[-2])] = int(fields[-1])
    return result


def depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return deps


def walk_strings(node: Any):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from walk_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_strings(value)


def is_reference(value: str) -> bool:
    """True when the whole value is one ${NAME} / ${NAME:?err} reference, with no fallback value."""
    match = VAR_REF.fullmatch(value.strip())
    return bool(match) and match["op"] not in (":-", "-")


def constraint_pin(package: str) -> str:
    for line in CONSTRAINTS_FILE.read_text().splitlines():
        match = re.match(rf"\s*{re.escape(package)}\s*==\s*([^\s#]+)", line)
        if match:
            return match.group(1)
    raise AssertionError(f"constraints.txt pins no {package}")


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            keyword, _, rest = full.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    assert not pending, f"{path}: the last instruction ends with a line continuation"
    return instructions


def dockerignore_patterns(dockerfile: Path, context: Path) -> list[str]:
    """BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile first, else <context>/.dockerignore."""
    for candidate in (dockerfile.with_name(dockerfile.name + ".dockerignore"), context / ".dockerignore"):
        if candidate.is_file():
            return [ln.strip() for ln in candidate.read_text().splitlines()
                    if ln.strip() and not ln.strip().startswith("#")]
    return []


def ignored(relpath: str, patterns: list[str]) -> bool:
    """Whether .dockerignore patterns exclude a path (the last matching pattern wins; a pattern also
    matches everything below a matching directory)."""
    path = PurePosixPath(relpath)
    candidates = [str(path)] + [str(parent) for parent in path.parents if str(parent) != "."]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern[1:] if negate else pattern
        pattern = pattern.strip("/")
        variants = {pattern}
        if pattern.startswith("**/"):
            variants.add(pattern[3:])
        if any(fnmatch(c, v) for c in candidates for v in variants):
            excluded = not negate
    return excluded


def copy_sources(args: str) -> list[str]:
    """Source paths of a COPY/ADD instruction (its last argument is the destination)."""
    if args.startswith("["):
        parts = json.loads(args)
    else:
        parts = shlex.split(args)
    parts = [p for p in parts if not p.startswith("--")]
    return parts[:-1]


def k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S_DIR.rglob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                docs.append((path, doc))
    return docs


def k8s_objects() -> list[dict[str, Any]]:
    return [doc for _, doc in k8s_documents() if doc.get("kind") != "Kustomization"]


def one_object(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in k8s_objects() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def worker_deployment() -> dict[str, Any]:
    return one_object("Deployment", "prefect-worker-k8s-gpu")


def worker_container() -> dict[str, Any]:
    containers = worker_deployment()["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def load_template() -> dict[str, Any]:
    return json.loads(TEMPLATE_FILE.read_text())


def template_defaults(template: dict[str, Any]) -> dict[str, Any]:
    """The variables' defaults as Prefect applies them: a None default counts as no default."""
    return {name: spec["default"] for name, spec in template["variables"]["properties"].items()
            if spec.get("default") is not None}


def render_job(template: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The job configuration Prefect's worker builds from the template and job variables
    (prefect.workers.base.BaseJobConfiguration.from_template_and_values: defaults, env merge,
    apply_values), returned as a plain dict."""
    from prefect.workers.base import BaseJobConfiguration

    class GpuJobConfiguration(BaseJobConfiguration):
        namespace: str
        job_manifest: dict[str, Any]
        stream_output: bool
        pod_watch_timeout_seconds: int
        job_watch_timeout_seconds: int | None = None
        cluster_config: dict[str, Any] | None = None

    class NoClient:  # the template references no blocks or Prefect variables, so no API is needed
        pass

    config = asyncio.run(GpuJobConfiguration.from_template_and_values(template, values, client=NoClient()))
    return config.model_dump()


def pod_spec(job_manifest: dict[str, Any]) -> dict[str, Any]:
    return job_manifest["spec"]["template"]["spec"]


# ---------------------------------------------------------------------------------------------------
# docker-compose.yml


def test_compose_parses_and_has_required_services():
    compose = load_compose()
    assert isinstance(compose, dict) and isinstance(compose.get("services"), dict)
    missing = REQUIRED_SERVICES - set(compose["services"])
    assert not missing, f"docker-compose.yml lacks services {sorted(missing)}"


def test_compose_publishes_the_documented_ports():
    svcs = services()
    for name, ports in PUBLISHED_PORTS.items():
        published = published_ports(svcs[name])
        for port in ports:
            assert published.get(port) == port, f"{name} does not publish {port}:{port} ({published})"
    readme = (INFRA / "README.md").read_text()
    for port in set().union(*PUBLISHED_PORTS.values()):
        assert str(port) in readme, f"infra/README.md does not mention port {port}"


def test_prefect_server_uses_postgres_through_asyncpg():
    server = services()["prefect-server"]
    assert server["image"] == PREFECT_IMAGE
    args = argv(server["command"])
    assert args[:3] == ["prefect", "server", "start"] and flag_value(args, "--host") == "0.0.0.0"
    url = resolved_environment(server)["PREFECT_API_DATABASE_CONNECTION_URL"]
    parts = urlsplit(url)
    assert parts.scheme == "postgresql+asyncpg", url
    assert (parts.hostname, parts.port, parts.path) == ("postgres", 5432, "/prefect"), url
    assert depends_on(server)["postgres"]["condition"] == "service_healthy"


def test_prefect_server_keeps_concurrency_leases_on_a_volume():
    """In memory (Prefect's default) a server restart would leave a held dataset slot taken for ever."""
    from flows.recovery import FILE_LEASES

    server = services()["prefect-server"]
    env = resolved_environment(server)
    assert env["PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"] == FILE_LEASES
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in server["volumes"]}
    assert mounts[env["PREFECT_HOME"]] in load_compose()["volumes"]  # a named volume: it outlives the container


def test_prefect_server_deletes_old_flow_runs_not_only_events():
    """A nightly schedule adds runs for ever; the server's vacuum keeps the last PREFECT_RUN_RETENTION_SECONDS."""
    env = resolved_environment(services()["prefect-server"])
    assert set(env["PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED"].split(",")) == {"events", "flow_runs"}
    assert int(env["PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD"]) >= 3600  # Prefect's minimum


def test_mlflow_uses_postgres_backend_and_s3_artifacts_on_minio():
    svcs = services()
    mlflow = svcs["mlflow"]
    args = argv(mlflow["command"])
    env = resolved_environment(mlflow)
    assert args[:2] == ["mlflow", "server"]
    backend = flag_value(args, "--backend-store-uri") or env.get("MLFLOW_BACKEND_STORE_URI")
    assert backend, "no backend store URI (--backend-store-uri or MLFLOW_BACKEND_STORE_URI)"
    parts = urlsplit(interpolate(backend, DUMMY_ENV))
    assert parts.scheme.startswith("postgresql"), backend
    assert (parts.hostname, parts.port, parts.path) == ("postgres", 5432, "/mlflow"), backend
    destination = flag_value(args, "--artifacts-destination") or env.get("MLFLOW_ARTIFACTS_DESTINATION")
    assert destination and destination.startswith("s3://"), destination
    assert "--serve-artifacts" in args
    assert flag_value(args, "--host") == "0.0.0.0" and flag_value(args, "--port") == "5000"
    endpoint = urlsplit(env["MLFLOW_S3_ENDPOINT_URL"])
    assert endpoint.hostname == "minio" and endpoint.port in published_ports(svcs["minio"]).values()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert is_reference(str(environment(mlflow)[key])), f"mlflow {key} is not a ${{...}} reference"


def test_mlflow_image_pins_the_projects_mlflow():
    text = (INFRA / "mlflow" / "Dockerfile").read_text()
    assert f"mlflow[auth]=={constraint_pin('mlflow')}" in text  # with its basic-auth app's dependencies
    assert "psycopg2" in text and "boto3" in text


def test_every_database_is_created_by_the_init_script():
    svcs = services()
    created: set[str] = set()
    init_dir = None
    for volume in svcs["postgres"].get("volumes", []):
        source, _, target = str(volume).partition(":")
        if target.split(":")[0] == "/docker-entrypoint-initdb.d":
            init_dir = (INFRA / source).resolve()
    assert init_dir and init_dir.is_dir(), "no init directory mounted at /docker-entrypoint-initdb.d"
    for script in init_dir.glob("*.sql"):
        created |= {m.lower() for m in re.findall(r"CREATE\s+DATABASE\s+\"?(\w+)", script.read_text(), re.I)}
    wanted = {
        urlsplit(resolved_environment(svcs["prefect-server"])["PREFECT_API_DATABASE_CONNECTION_URL"]).path.strip("/"),
        urlsplit(resolved_environment(svcs["mlflow"])["MLFLOW_BACKEND_STORE_URI"]).path.strip("/"),
        urlsplit(resolved_environment(svcs["airflow-scheduler"])["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).path.strip("/"),
    }
    assert wanted <= created, f"databases {sorted(wanted - created)} are not created in {init_dir}"


def test_the_airflow_profile_runs_every_component_on_the_stack_with_the_provider():
    """API server, scheduler, DAG processor and triggerer from one image that installs the provider,
    on the stack's Postgres, sharing one JWT secret, reaching MLflow through a connection."""
    svcs = services()
    init = svcs["airflow-init"]
    assert init.get("profiles") == ["airflow"] and "airflow db migrate" in " ".join(argv(init.get("command")))
    for name, command in AIRFLOW_COMPONENTS.items():
        svc = svcs[name]
        assert svc.get("profiles") == ["airflow"], f"{name} is not in the airflow profile"
        assert argv(svc.get("command"))[0] == command
        assert svc["build"]["dockerfile"] == "infra/airflow/Dockerfile"
        env = resolved_environment(svc)
        db = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert db.hostname == "postgres" and db.path == "/airflow", f"{name}: {db}"
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == DUMMY_ENV["AIRFLOW_JWT_SECRET"]
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-api-server:8080/")
        connection = json.loads(env["AIRFLOW_CONN_SYNTH_MLFLOW"])
        assert connection == {"conn_type": "synth_mlflow", "host": "http://mlflow:5000", "login": "synth-runner",
                              "password": DUMMY_ENV["MLFLOW_RUNNER_PASSWORD"]}
        assert depends_on(svc).get("airflow-init", {}).get("condition") == "service_completed_successfully"
    assert published_ports(svcs["airflow-api-server"]) == {8080: 8080}
    dockerfile = (INFRA / "airflow" / "Dockerfile").read_text()
    base = next(args for kw, args in dockerfile_instructions(INFRA / "airflow" / "Dockerfile") if kw == "FROM")
    assert base == f"apache/airflow:{constraint_pin('apache-airflow')}-python3.11"
    assert "COPY --chown=airflow:0 synth_airflow ./synth_airflow" in dockerfile
    assert "synth_airflow/example_dags/synthetic_refresh.py /opt/airflow/dags/" in dockerfile
    assert "['optional-dependencies']['airflow']" in dockerfile  # the airflow extra: the core, without Prefect
    assert "['optional-dependencies']['prefect']" not in dockerfile


def test_every_server_asks_for_credentials_and_every_client_brings_them():
    """Prefect's API with its basic-auth string, MLflow with its basic-auth app; the workers hold the
    same auth string and MLflow's `synth-runner` user, all from required variables."""
    svcs = services()
    server = resolved_environment(svcs["prefect-server"])
    assert server["PREFECT_SERVER_API_AUTH_STRING"] == DUMMY_ENV["PREFECT_AUTH_STRING"]
    for name in ("worker", "docker-worker"):
        assert resolved_environment(svcs[name])["PREFECT_API_AUTH_STRING"] == DUMMY_ENV["PREFECT_AUTH_STRING"]
    mlflow = svcs["mlflow"]
    assert flag_value(argv(mlflow["command"]), "--app-name") == "basic-auth"
    assert resolved_environment(mlflow)["MLFLOW_AUTH_ADMIN_PASSWORD"] == DUMMY_ENV["MLFLOW_ADMIN_PASSWORD"]
    ini = (INFRA / "mlflow" / "basic_auth.ini").read_text()
    assert re.search(r"^default_permission = READ$", ini, re.M) and "password" not in ini.lower().split("[mlflow]")[1]
    worker = resolved_environment(svcs["worker"])
    assert worker["MLFLOW_TRACKING_USERNAME"] == "synth-runner"
    assert worker["MLFLOW_TRACKING_PASSWORD"] == DUMMY_ENV["MLFLOW_RUNNER_PASSWORD"]
    users = resolved_environment(svcs["mlflow-users"])
    assert {users["MLFLOW_RUNNER_PASSWORD"], users["MLFLOW_VIEWER_PASSWORD"]} == {
        DUMMY_ENV["MLFLOW_RUNNER_PASSWORD"], DUMMY_ENV["MLFLOW_VIEWER_PASSWORD"]}
    assert depends_on(svcs["worker"])["mlflow-users"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("dockerfile", sorted(DOCKERFILES), ids=lambda p: str(p.relative_to(INFRA)))
def test_images_run_as_a_user_and_bake_in_no_secret(dockerfile: Path):
    instructions = dockerfile_instructions(dockerfile)
    users = [args.split()[0] for kw, args in instructions if kw == "USER"]
    assert users and users[-1] not in ("root", "0"), f"{dockerfile.name} runs as root"
    for keyword, args in instructions:
        if keyword in ("ENV", "ARG"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args) or args.split()[:1]
            assert not [n for n in names if SECRET_NAME.search(n) and not n.endswith("_PATH")], (
                f"{dockerfile.name}: {keyword} {args} bakes a secret into a layer")
    patterns = dockerignore_patterns(dockerfile, DOCKERFILES[dockerfile])
    if patterns:
        assert ignored(".env", patterns) and ignored("infra/.env", patterns)


def test_createbuckets_creates_the_artifact_bucket():
    svcs = services()
    job = svcs["createbuckets"]
    assert job["image"].startswith("minio/mc:")
    bucket = urlsplit(flag_value(argv(svcs["mlflow"]["command"]), "--artifacts-destination")).netloc
    assert resolved_environment(job)["MLFLOW_BUCKET"] == bucket
    script_args = argv(job.get("entrypoint")) + argv(job.get("command"))
    mounts = {str(v).split(":")[1]: (INFRA / str(v).split(":")[0]).resolve() for v in job.get("volumes", [])}
    scripts = [mounts[m] / Path(a).relative_to(m) for a in script_args for m in mounts if a.startswith(m + "/")]
    assert scripts and all(s.is_file() for s in scripts), f"createbuckets runs no script from infra/ ({script_args})"
    text = scripts[0].read_text()
    assert "mc mb" in text and "MLFLOW_BUCKET" in text
    if shutil.which("sh"):
        subprocess.run(["sh", "-n", str(scripts[0])], check=True, timeout=30)
    assert depends_on(job)["minio"]["condition"] == "service_healthy"
    assert depends_on(svcs["mlflow"])["createbuckets"]["condition"] == "service_completed_successfully"


def test_worker_runs_the_local_process_pool_against_the_stack():
    svcs = services()
    worker = svcs["worker"]
    assert argv(worker["command"]) == ["prefect", "worker", "start", "--pool", "local-process", "--type", "process"]
    env = resolved_environment(worker)
    api = urlsplit(env["PREFECT_API_URL"])
    assert api.hostname == "prefect-server" and api.path == "/api"
    assert api.port in published_ports(svcs["prefect-server"]).values()
    tracking = urlsplit(env["MLFLOW_TRACKING_URI"])
    assert tracking.hostname == "mlflow" and tracking.port in published_ports(svcs["mlflow"]).values()
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert (INFRA / worker["build"]["context"]).resolve() == REPO
    assert (INFRA / worker["build"]["context"] / worker["build"]["dockerfile"]).resolve() == INFRA / "worker" / "Dockerfile"
    assert depends_on(worker)["prefect-server"]["condition"] == "service_healthy"
    # MLflow: healthy, and its users made (mlflow-users waits for mlflow to be healthy)
    assert depends_on(worker)["mlflow-users"]["condition"] == "service_completed_successfully"
    assert depends_on(svcs["mlflow-users"])["mlflow"]["condition"] == "service_healthy"


def test_every_deployment_pool_has_a_worker_here():
    """Each work pool in deployments/prefect.yaml is one of the three pools and has a worker in infra/."""
    compose_pools = {}
    for svc in services().values():
        args = argv(svc.get("command"))
        if args[:3] == ["prefect", "worker", "start"]:
            compose_pools[flag_value(args, "--pool")] = flag_value(args, "--type")
    k8s_args = worker_container()["args"]
    served = {**compose_pools, flag_value(k8s_args, "--pool"): flag_value(k8s_args, "--type")}
    assert served == WORK_POOLS
    deployments = yaml.safe_load(DEPLOYMENTS_FILE.read_text())["deployments"]
    used = {d["work_pool"]["name"] for d in deployments if d.get("work_pool")}
    assert used <= set(WORK_POOLS), f"deployments use unknown pools {sorted(used - set(WORK_POOLS))}"


def test_depends_on_targets_exist_and_wait_for_readiness():
    svcs = services()
    for name, svc in svcs.items():
        for target, spec in depends_on(svc).items():
            assert target in svcs, f"{name} depends on unknown service {target}"
            condition = spec.get("condition")
            if "healthcheck" in svcs[target]:
                assert condition == "service_healthy", f"{name} -> {target}: {condition}"
            else:
                assert condition == "service_completed_successfully", (
                    f"{name} -> {target}: {target} has no healthcheck, so only its completion can be awaited")


def test_long_running_dependencies_have_healthchecks():
    svcs = services()
    for name in ("postgres", "minio", "prefect-server", "mlflow"):
        test = svcs[name].get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no usable healthcheck"


def test_no_literal_secrets_in_compose():
    svcs = services()
    for name, svc in svcs.items():
        for key, value in environment(svc).items():
            assert value is None or isinstance(value, str), f"{name}.{key}: write it as a quoted string"
            if SECRET_NAME.search(key) and not key.endswith("_FILE"):  # a _FILE is where a secret is kept
                assert value is not None and is_reference(value), (
                    f"{name}.{key} must be a ${{VAR}} / ${{VAR:?...}} reference, not {value!r}")
    # Credentials inside URLs too, wherever they appear: the password in scheme://user:password@host
    # must be a reference.
    for text in walk_strings(load_compose()):
        for match in re.finditer(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:([^@\s]+)@", text):
            assert is_reference(match.group(1)), f"literal password in {text!r}"


def test_required_variables_are_documented():
    refs = [m for text in walk_strings(load_compose()) for m in VAR_REF.finditer(text.replace("$$", ""))]
    required = {m["name"] for m in refs if m["op"] in (":?", "?")}
    referenced = {m["name"] for m in refs}
    assert {"POSTGRES_PASSWORD", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD",
            "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= required
    example = ENV_EXAMPLE.read_text()
    example_values = dict(re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", example, re.M))
    for var in required:
        assert var in example_values, f".env.example does not set required {var}"
    for var, value in example_values.items():
        if SECRET_NAME.search(var) or var in required - {"POSTGRES_USER"}:
            assert value.strip() == "change-me", f".env.example gives {var} a value other than change-me"
    readme = (INFRA / "README.md").read_text()
    for var in referenced:
        assert var in example, f"{var} is missing from .env.example"
        assert f"`{var}" in readme, f"{var} is not documented in infra/README.md"


def test_env_file_is_ignored_by_git():
    assert ".env" in (INFRA / ".gitignore").read_text().split()
    git = shutil.which("git")
    if git and (REPO / ".git").exists():
        result = subprocess.run([git, "-C", str(REPO), "check-ignore", "-q", "infra/.env"], timeout=30)
        assert result.returncode == 0, "git would track infra/.env"


def test_build_contexts_dockerfiles_and_mounts_exist():
    for name, svc in services().items():
        build = svc.get("build")
        if build is not None:
            if isinstance(build, str):
                build = {"context": build}
            context = (INFRA / build.get("context", ".")).resolve()
            dockerfile = (context / build.get("dockerfile", "Dockerfile")).resolve()
            assert context.is_dir(), f"{name}: build context {context} does not exist"
            assert dockerfile.is_file(), f"{name}: Dockerfile {dockerfile} does not exist"
            assert DOCKERFILES.get(dockerfile) == context, f"{name}: {dockerfile} is built with context {context}"
        for volume in svc.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("."):
                assert (INFRA / source).exists(), f"{name}: mounted path {source} does not exist"


# ---------------------------------------------------------------------------------------------------
# the data bucket on MinIO: its policies, its users, and who holds which keys


def load_policy(role: str, bucket: str | None = None) -> dict[str, Any]:
    """infra/minio/policies/synth-<role>.json, with the bucket's name filled in as createbuckets does."""
    text = (POLICY_DIR / f"synth-{role}.json").read_text()
    return json.loads(text if bucket is None else text.replace("${SYNTH_BUCKET}", bucket))


def policy_allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    """Whether an Allow statement grants `action` on `resource` (IAM's `*` wildcard; conditions ignored,
    as moto ignores them; the policies hold no Deny)."""
    def matches(patterns: str | list[str], value: str) -> bool:
        patterns = [patterns] if isinstance(patterns, str) else patterns
        return any(re.fullmatch(re.escape(p).replace(r"\*", ".*"), value) for p in patterns)

    return any(st["Effect"] == "Allow" and matches(st["Action"], action) and matches(st["Resource"], resource)
               for st in policy["Statement"])


def test_compose_refuses_to_start_without_the_object_store_keys():
    texts = list(walk_strings(load_compose()))
    for name in RUNNER_KEYS + VIEWER_KEYS:
        refs = [m for text in texts for m in VAR_REF.finditer(text.replace("$$", "")) if m["name"] == name]
        assert refs and all(m["op"] == ":?" for m in refs), f"{name}: every use must be ${{{name}:?...}}"
        without = {k: v for k, v in DUMMY_ENV.items() if k != name}
        with pytest.raises(KeyError, match=name):
            for text in texts:
                interpolate(text, without)


def test_refreshes_hold_the_runners_object_store_keys_and_nothing_more():
    """The worker and Airflow reach the data bucket as `synth-runner`; the root user stays with MinIO and
    createbuckets, MLflow's pair with MLflow, the viewer's pair with createbuckets."""
    svcs = services()
    runner = dict(zip(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), (DUMMY_ENV[k] for k in RUNNER_KEYS)))
    worker = resolved_environment(svcs["worker"])
    assert {k: worker[k] for k in runner} == runner
    assert worker["AWS_ENDPOINT_URL"] == MINIO_ENDPOINT and worker["AWS_DEFAULT_REGION"] == "us-east-1"
    assert urlsplit(MINIO_ENDPOINT).port in published_ports(svcs["minio"]).values()
    assert depends_on(svcs["worker"])["createbuckets"]["condition"] == "service_completed_successfully"
    for name in ("airflow-init", *AIRFLOW_COMPONENTS):
        connection = json.loads(resolved_environment(svcs[name])["AIRFLOW_CONN_AWS_DEFAULT"])
        assert connection == {"conn_type": "aws", "login": runner["AWS_ACCESS_KEY_ID"],
                              "password": runner["AWS_SECRET_ACCESS_KEY"],
                              "extra": {"endpoint_url": MINIO_ENDPOINT, "region_name": "us-east-1"}}, name
    assert "AWS_SECRET_ACCESS_KEY" not in environment(svcs["docker-worker"])  # its runs get theirs from blocks
    holders = {"MINIO_ROOT_USER": {"minio", "createbuckets"}, "MINIO_ROOT_PASSWORD": {"minio", "createbuckets"},
               "AWS_ACCESS_KEY_ID": {"mlflow", "createbuckets"}, "AWS_SECRET_ACCESS_KEY": {"mlflow", "createbuckets"},
               **{key: {"createbuckets"} for key in VIEWER_KEYS}}
    for name, svc in svcs.items():
        used = {m["name"] for text in walk_strings(svc) for m in VAR_REF.finditer(text.replace("$$", ""))}
        for variable, allowed in holders.items():
            assert variable not in used or name in allowed, f"{name} holds {variable}"


def test_bucket_policies_hold_each_role_to_its_prefixes():
    assert sorted(p.name for p in POLICY_DIR.iterdir()) == ["synth-runner.json", "synth-viewer.json"]
    bucket, other = "synth", "elsewhere"
    arn = f"arn:aws:s3:::{bucket}"
    expected = {  # (action, key or None for the bucket) -> (runner, viewer)
        ("s3:GetObject", "sources/a.parquet"): (True, False),
        ("s3:GetObject", "outputs/x/_CURRENT"): (True, True),
        ("s3:GetObject", "checkpoints/x/_CURRENT"): (True, False),
        ("s3:GetObject", "private/a"): (False, False),
        ("s3:PutObject", "sources/a.parquet"): (False, False),
        ("s3:PutObject", "outputs/x/versions/1/part-0.parquet"): (True, False),
        ("s3:PutObject", "checkpoints/x/_CURRENT"): (True, False),
        ("s3:PutObject", "a.parquet"): (False, False),
        ("s3:PutObject", "sources-copy/a"): (False, False),
        ("s3:DeleteObject", "sources/a.parquet"): (False, False),
        ("s3:DeleteObject", "outputs/x/_CURRENT"): (True, False),
        ("s3:DeleteObject", "checkpoints/x/_CURRENT"): (True, False),
        ("s3:AbortMultipartUpload", "outputs/x/part"): (True, False),
        ("s3:ListBucket", None): (True, True),
        ("s3:CreateBucket", None): (False, False),
        ("s3:DeleteBucket", None): (False, False),
        ("s3:PutBucketPolicy", None): (False, False),
    }
    policies = {role: load_policy(role, bucket) for role in ("runner", "viewer")}
    for (action, key), wanted in expected.items():
        resource = f"{arn}/{key}" if key else arn
        got = tuple(policy_allows(policies[role], action, resource) for role in ("runner", "viewer"))
        assert got == wanted, f"{action} on {resource}: (runner, viewer) allowed {got}, expected {wanted}"
        other_resource = resource.replace(f":::{bucket}", f":::{other}")
        assert not any(policy_allows(p, action, other_resource) for p in policies.values()), other_resource
    for role, policy in policies.items():
        assert policy["Version"] == "2012-10-17"
        for statement in policy["Statement"]:
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            assert all(a.startswith("s3:") and "*" not in a for a in actions), f"{role}: {actions}"
            assert "Principal" not in statement and statement["Effect"] == "Allow"
    # the viewer lists published outputs only (MinIO enforces it; moto ignores conditions)
    [listing] = [st for st in policies["viewer"]["Statement"] if "s3:ListBucket" in st["Action"]]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["outputs/*"]}}
    for path in POLICY_DIR.iterdir():  # no secret, no other bucket: one placeholder for the bucket's name
        text = path.read_text()
        assert not re.search(r"AKIA|secret|password|change-me", text, re.I), path.name
        assert set(re.findall(r"arn:aws:s3:::([^/\"]*)", text)) == {"${SYNTH_BUCKET}"}, path.name


def _run_create_buckets(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess:
    """infra/minio/create-buckets.sh under sh, with createbuckets' environment (the dummy values) and an
    `mc` that records its arguments, and keeps a copy of every policy file it is given."""
    if not shutil.which("sh"):
        pytest.skip("no sh to run create-buckets.sh with")
    fake = tmp_path / "bin" / "mc"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text('#!/bin/sh\necho "$*" >> "$MC_LOG"\n'
                    'if [ "$1 $2 $3" = "admin policy create" ]; then cp "$6" "$MC_LOG.$5.json"; fi\n')
    fake.chmod(0o755)
    env = {**resolved_environment(services()["createbuckets"]), "MC_LOG": str(tmp_path / "mc.log"),
           "PATH": f"{fake.parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}", **overrides}
    return subprocess.run(["sh", str(CREATE_BUCKETS)], env=env, capture_output=True, text=True, timeout=60)


def test_createbuckets_makes_the_data_bucket_and_its_two_users(tmp_path):
    job = services()["createbuckets"]
    env = resolved_environment(job)
    assert env["SYNTH_BUCKET"] == "synth" and {k: env[k] for k in RUNNER_KEYS + VIEWER_KEYS} == {
        k: DUMMY_ENV[k] for k in RUNNER_KEYS + VIEWER_KEYS}
    mounts = {str(v).split(":")[1]: (INFRA / str(v).split(":")[0]).resolve() for v in job.get("volumes", [])}
    assert mounts["/setup"] == CREATE_BUCKETS.parent and POLICY_DIR.parent == CREATE_BUCKETS.parent

    done = _run_create_buckets(tmp_path, SYNTH_BUCKET="data-1")
    assert done.returncode == 0, done.stderr
    calls = (tmp_path / "mc.log").read_text().splitlines()
    assert "mb --ignore-existing local/data-1" in calls and "mb --ignore-existing local/mlflow" in calls
    for role, (access, secret) in {"runner": RUNNER_KEYS, "viewer": VIEWER_KEYS}.items():
        assert f"admin user add local {DUMMY_ENV[access]} {DUMMY_ENV[secret]}" in calls
        assert f"admin policy attach local synth-{role} --user {DUMMY_ENV[access]}" in calls
        loaded = json.loads((tmp_path / f"mc.log.synth-{role}.json").read_text())
        assert loaded == load_policy(role, "data-1")
    assert DUMMY_ENV["MINIO_ROOT_PASSWORD"] not in done.stdout + done.stderr

    for bad in ({"SYNTH_BUCKET": "Data_1"}, {"MINIO_VIEWER_ACCESS_KEY": DUMMY_ENV["MINIO_ROOT_USER"]},
                {"MINIO_VIEWER_ACCESS_KEY": DUMMY_ENV["MINIO_RUNNER_ACCESS_KEY"]},
                {"MINIO_RUNNER_ACCESS_KEY": DUMMY_ENV["AWS_ACCESS_KEY_ID"]}, {"MINIO_RUNNER_SECRET_KEY": ""}):
        refused = _run_create_buckets(tmp_path, **bad)
        assert refused.returncode != 0 and refused.stderr.strip(), bad


# ---------------------------------------------------------------------------------------------------
# Dockerfiles


@pytest.mark.parametrize("dockerfile", sorted(DOCKERFILES), ids=lambda p: str(p.relative_to(INFRA)))
def test_dockerfile_parses_and_copies_existing_files(dockerfile: Path):
    context = DOCKERFILES[dockerfile]
    instructions = dockerfile_instructions(dockerfile)
    assert instructions, f"{dockerfile} is empty"
    leading = [kw for kw, _ in instructions]
    first_from = leading.index("FROM")
    assert all(kw == "ARG" for kw in leading[:first_from]), "only ARG may come before the first FROM"
    known = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
             "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
    assert set(leading) <= known, f"unknown instructions {set(leading) - known}"
    patterns = dockerignore_patterns(dockerfile, context)
    for keyword, args in instructions:
        if keyword in ("COPY", "ADD") and "--from" not in args:
            for source in copy_sources(args):
                assert (context / source).exists(), f"{dockerfile.name}: COPY source {source} missing in {context}"
                assert not ignored(source, patterns), f"{dockerfile.name}: COPY source {source} is dockerignored"
        if keyword in ("CMD", "ENTRYPOINT") and args.startswith("["):
            json.loads(args)  # exec form must be valid JSON


def test_dockerignore_matcher_excludes_and_reincludes():
    patterns = ["*", "!synth", "**/__pycache__"]
    assert ignored(".venv/bin/python", patterns)
    assert not ignored("synth/io.py", patterns)
    assert ignored("synth/__pycache__/io.cpython-311.pyc", patterns)


def test_worker_images_install_the_project_under_constraints():
    for name in ("Dockerfile", "Dockerfile.cuda"):
        path = INFRA / "worker" / name
        runs = [args for kw, args in dockerfile_instructions(path) if kw == "RUN"]
        assert any("pip install" in r and "-c constraints.txt" in r for r in runs), f"{name}: no constrained install"
        args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", path.read_text(), re.M))
        assert args.get("TORCH_VERSION") == constraint_pin("torch"), f"{name}: TORCH_VERSION != constraints.txt"


def test_cpu_image_takes_torch_from_the_cpu_index():
    text = (INFRA / "worker" / "Dockerfile").read_text()
    assert "--index-url https://download.pytorch.org/whl/cpu" in text


def test_cuda_image_is_a_flow_run_image_with_cuda_torch():
    path = INFRA / "worker" / "Dockerfile.cuda"
    instructions = dockerfile_instructions(path)
    base = next(args for kw, args in instructions if kw == "FROM")
    assert base.startswith("nvidia/cuda:"), base
    runs = " ".join(args for kw, args in instructions if kw == "RUN")
    assert re.search(r"--index-url \"?https://download\.pytorch\.org/whl/\$\{TORCH_CUDA\}", runs)
    assert re.search(r"^ARG\s+TORCH_CUDA=cu\d+", path.read_text(), re.M)
    # Kubernetes Jobs run this image with the worker's own args; the image must not start a worker.
    for kw, args in instructions:
        if kw in ("CMD", "ENTRYPOINT"):
            assert "worker" not in args, f"{kw} {args}: the CUDA image is a flow-run image, not a worker"
    assert ("ENTRYPOINT", "[]") in instructions


# ---------------------------------------------------------------------------------------------------
# Kubernetes manifests


def test_every_manifest_parses_with_kind_and_name():
    docs = k8s_documents()
    assert docs
    for path, doc in docs:
        assert isinstance(doc, dict), f"{path.name}: a document is not a mapping"
        assert doc.get("apiVersion") and doc.get("kind"), f"{path.name}: document without apiVersion/kind"
        if doc["kind"] != "Kustomization":
            assert doc.get("metadata", {}).get("name"), f"{path.name}: {doc['kind']} without metadata.name"


def test_kustomization_covers_every_manifest_and_the_template():
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    manifests = {p.name for p in K8S_DIR.glob("*.y*ml") if p.name != "kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests
    generated = {g["name"]: g for g in kustomization["configMapGenerator"]}
    volumes = worker_deployment()["spec"]["template"]["spec"]["volumes"]
    mounted = {v["configMap"]["name"] for v in volumes if "configMap" in v}
    assert mounted & set(generated), "the worker mounts no ConfigMap generated by the kustomization"
    files = [f for g in generated.values() for f in g["files"]]
    assert TEMPLATE_FILE.name in files and all((K8S_DIR / f).is_file() for f in files)


def test_all_objects_live_in_the_namespace():
    namespace = one_object("Namespace")["metadata"]["name"]
    for obj in k8s_objects():
        if obj["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"].get("namespace") == namespace, f"{obj['kind']} {obj['metadata']['name']}"
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    assert kustomization.get("namespace") == namespace
    assert load_template()["variables"]["properties"]["namespace"]["default"] == namespace


def test_worker_deployment_runs_the_k8s_gpu_kubernetes_worker():
    container = worker_container()
    assert container["image"] == PREFECT_IMAGE
    # `args`, not `command`: the image's entrypoint installs EXTRA_PIP_PACKAGES before running them.
    assert "command" not in container
    args = container["args"]
    assert args[:3] == ["prefect", "worker", "start"]
    assert flag_value(args, "--pool") == "k8s-gpu" and flag_value(args, "--type") == "kubernetes"
    env = {e["name"]: e for e in container["env"]}
    from packaging.requirements import Requirement

    extras = [Requirement(r) for r in env["EXTRA_PIP_PACKAGES"]["value"].split()]
    kube = next(r for r in extras if r.name == "prefect-kubernetes")
    assert kube.specifier.contains("0.8.0") and not kube.specifier.contains("1.0.0"), str(kube)
    template_path = flag_value(args, "--base-job-template")
    if template_path:
        mounts = [m["mountPath"] for m in container["volumeMounts"]]
        assert any(template_path.startswith(m.rstrip("/") + "/") for m in mounts)
        assert template_path.endswith(TEMPLATE_FILE.name)


def test_worker_reads_api_key_from_a_secret_and_url_from_a_configmap():
    env = {e["name"]: e for e in worker_container()["env"]}
    key = env["PREFECT_API_KEY"]
    assert "value" not in key and key["valueFrom"]["secretKeyRef"]["name"], key
    url = env["PREFECT_API_URL"]["valueFrom"]["configMapKeyRef"]
    configmap = one_object("ConfigMap", url["name"])
    assert urlsplit(configmap["data"][url["key"]]).path.endswith("/api")
    # The Secret itself is created with kubectl, never committed.
    assert not [o for o in k8s_objects() if o["kind"] == "Secret"]
    for name, entry in env.items():
        if SECRET_NAME.search(name) and not name.endswith(("_SECRET_NAME", "_SECRET_KEY")):
            assert "value" not in entry, f"{name} has a literal value"
    # a self-hosted server's basic auth: from a Secret too, for the worker and for every flow-run Job
    auth = env["PREFECT_API_AUTH_STRING"]
    assert "value" not in auth and auth["valueFrom"]["secretKeyRef"]["name"] == "prefect-auth", auth
    [job] = pod_spec(load_template()["job_configuration"]["job_manifest"])["containers"]
    assert {"secretRef": {"name": "synth-runner-credentials", "optional": True}} in job["envFrom"]
    for configmap in (o for o in k8s_objects() if o["kind"] == "ConfigMap"):
        assert not [k for k in configmap.get("data", {}) if SECRET_NAME.search(k) or "AUTH" in k], configmap


def test_worker_rbac_allows_creating_jobs_and_reading_pods():
    deployment = worker_deployment()
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    one_object("ServiceAccount", account)
    bindings = [b for b in k8s_objects() if b["kind"] in ("RoleBinding", "ClusterRoleBinding")
                and any(s["kind"] == "ServiceAccount" and s["name"] == account for s in b["subjects"])]
    assert bindings, f"no binding for service account {account}"
    rules = [rule for b in bindings for rule in one_object(b["roleRef"]["kind"], b["roleRef"]["name"])["rules"]]

    def allowed(group: str, resource: str, verbs: set[str]) -> bool:
        granted: set[str] = set()
        for rule in rules:
            if group in rule.get("apiGroups", []) and resource in rule.get("resources", []):
                granted |= set(rule.get("verbs", []))
        return "*" in granted or verbs <= granted

    assert allowed("batch", "jobs", {"create", "get", "list", "watch", "delete"})
    assert allowed("", "pods", {"get", "list", "watch"})
    assert allowed("", "pods/log", {"get"})
    assert allowed("", "events", {"get", "list", "watch"})


def test_flow_run_service_account_exists_without_token():
    name = load_template()["variables"]["properties"]["service_account_name"]["default"]
    account = one_object("ServiceAccount", name)
    assert account.get("automountServiceAccountToken") is False


# ---------------------------------------------------------------------------------------------------
# the k8s-gpu base job template


def test_template_has_the_prefect_kubernetes_shape():
    template = load_template()
    assert set(template) == {"job_configuration", "variables"}
    config = template["job_configuration"]
    for key in ("command", "env", "labels", "name", "namespace", "job_manifest", "cluster_config",
                "stream_output", "job_watch_timeout_seconds", "pod_watch_timeout_seconds"):
        assert key in config, f"job_configuration lacks {key}"
    manifest = config["job_manifest"]
    assert (manifest["apiVersion"], manifest["kind"]) == ("batch/v1", "Job")
    container = pod_spec(manifest)["containers"][0]
    assert {"image", "args", "env", "resources"} <= set(container)
    assert template["variables"]["type"] == "object" and template["variables"]["properties"]


def test_template_placeholders_are_declared_variables():
    from prefect.server.schemas.actions import WorkPoolCreate
    from prefect.utilities.templating import find_placeholders

    template = load_template()
    used = {p.name for p in find_placeholders(json.dumps(template["job_configuration"]))}
    declared = set(template["variables"]["properties"])
    assert used <= declared, f"undeclared variables {sorted(used - declared)}"
    assert declared <= used, f"variables never used in job_configuration: {sorted(declared - used)}"
    # The server's own check, run by `prefect work-pool create --base-job-template`.
    WorkPoolCreate(name="k8s-gpu", type="kubernetes", base_job_template=template)


def test_template_gpu_variables():
    template = load_template()
    props = template["variables"]["properties"]
    assert props["gpu_count"]["type"] == "integer" and props["gpu_count"]["default"] == 1
    assert props["gpu_count"]["minimum"] == 0
    assert props["node_selector"]["type"] == "object" and props["node_selector"]["default"] == {}
    assert props["tolerations"]["type"] == "array" and props["tolerations"]["items"]["type"] == "object"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in props["tolerations"]["default"]
    for name in ("image", "namespace", "cpu_request", "memory_request", "service_account_name", "env",
                 "name", "labels", "command", "finished_job_ttl", "stream_output"):
        assert name in props, f"variables lack {name}"
    assert props["image"]["default"] == "prefect-synth-worker:cuda"
    spec = pod_spec(template["job_configuration"]["job_manifest"])
    assert spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "{{ gpu_count }}"
    assert spec["nodeSelector"] == "{{ node_selector }}"
    assert spec["tolerations"] == "{{ tolerations }}"


def test_template_variables_are_a_valid_schema_that_checks_job_variables():
    from prefect.utilities.schema_tools import is_valid_schema, validate

    template = load_template()
    schema = template["variables"]
    is_valid_schema(schema, preprocess=False)
    defaults = template_defaults(template)
    assert validate(defaults, schema, preprocess=True) == []
    good = {**defaults, "gpu_count": 4, "node_selector": {"cloud.google.com/gke-accelerator": "nvidia-h100-80gb"}}
    assert validate(good, schema, preprocess=True) == []
    for bad in ({"gpu_count": -1}, {"gpu_count": "two"}, {"tolerations": "nvidia"}, {"node_selector": {"a": 1}}):
        assert validate({**defaults, **bad}, schema, preprocess=True), f"{bad} was accepted"


def test_k8s_gpu_deployments_job_variables_fit_the_template():
    """What `prefect deploy` would send for the k8s-gpu deployments passes the server's job-variable
    check (prefect.server.api.validation: pool defaults overlaid with the deployment's variables)."""
    from prefect.utilities.schema_tools import validate

    template = load_template()
    declared = set(template["variables"]["properties"])
    deployments = yaml.safe_load(DEPLOYMENTS_FILE.read_text())["deployments"]
    for deployment in deployments:
        pool = deployment.get("work_pool") or {}
        if pool.get("name") != "k8s-gpu":
            continue
        job_variables = pool.get("job_variables") or {}
        unknown = set(job_variables) - declared
        assert not unknown, f"{deployment['name']}: job variables {sorted(unknown)} are not in the template"
        errors = validate({**template_defaults(template), **job_variables}, template["variables"],
                          preprocess=True, ignore_required=True, allow_none_with_default=True)
        assert not errors, f"{deployment['name']}: {[e.message for e in errors]}"


def test_template_defaults_render_a_gpu_job():
    from prefect.utilities.templating import apply_values, find_placeholders

    template = load_template()
    defaults = template_defaults(template)
    rendered = apply_values(template["job_configuration"], defaults)
    assert not find_placeholders(json.dumps(rendered)), "placeholders left after applying the defaults"
    spec = pod_spec(rendered["job_manifest"])
    container = spec["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == defaults["gpu_count"] == 1
    assert spec["nodeSelector"] == defaults["node_selector"]
    assert spec["tolerations"] == defaults["tolerations"]
    assert container["image"] == defaults["image"]
    assert rendered["job_manifest"]["metadata"]["namespace"] == rendered["namespace"] == defaults["namespace"]


def test_job_variables_override_the_defaults_through_prefects_merge():
    template = load_template()
    config = render_job(template, {
        "gpu_count": 2,
        "node_selector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
        "tolerations": [],
        "image": "registry.example/prefect-synth-worker:cuda",
        "env": {"EXTRA": "1"},
    })
    spec = pod_spec(config["job_manifest"])
    container = spec["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert spec["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert spec["tolerations"] == []
    assert container["image"] == "registry.example/prefect-synth-worker:cuda"
    # The deployment's env adds to the template's: MLFLOW_TRACKING_URI stays.
    assert config["env"]["EXTRA"] == "1"
    assert config["env"]["MLFLOW_TRACKING_URI"] == template_defaults(template)["mlflow_tracking_uri"]
    defaults_only = render_job(template, {})
    assert pod_spec(defaults_only["job_manifest"])["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1


def test_prefect_kubernetes_builds_the_job():
    worker = pytest.importorskip("prefect_kubernetes.worker", reason="prefect-kubernetes is not installed")
    from prefect.client.schemas.objects import FlowRun

    class NoClient:
        pass

    template = load_template()
    config = asyncio.run(worker.KubernetesWorkerJobConfiguration.from_template_and_values(
        template, {"gpu_count": 3}, client=NoClient()))
    config.prepare_for_flow_run(FlowRun(flow_id=uuid.uuid4(), name="nightly-diamonds"))
    spec = pod_spec(config.job_manifest)
    container = spec["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 3
    assert container["args"] == ["prefect", "flow-run", "execute"]
    assert {"name": "MLFLOW_TRACKING_URI", "value": "http://mlflow:5000"} in container["env"]
    assert config.job_manifest["metadata"]["namespace"] == template_defaults(template)["namespace"]


def _k8s_models():
    for module in ("kubernetes.client.models", "kubernetes_asyncio.client.models"):
        try:
            return __import__(module, fromlist=["V1Job"])
        except ImportError:
            continue
    pytest.skip("neither the kubernetes nor the kubernetes_asyncio client is installed")


def _unknown_fields(models, node: Any, type_name: str, path: str, allowed: set[str]) -> list[str]:
    """Field names in `node` that the Kubernetes API model `type_name` does not have."""
    if type_name.startswith("list[") and isinstance(node, list):
        return [e for i, item in enumerate(node)
                for e in _unknown_fields(models, item, type_name[5:-1], f"{path}[{i}]", allowed)]
    model = getattr(models, type_name, None)
    if model is None or not isinstance(node, dict):
        return []  # a scalar, a free-form map or an untyped object
    by_json_name = {json_name: attr for attr, json_name in model.attribute_map.items()}
    problems = []
    for key, value in node.items():
        where = f"{path}.{key}"
        if key not in by_json_name:
            if where not in allowed:
                problems.append(where)
            continue
        problems += _unknown_fields(models, value, model.openapi_types[by_json_name[key]], where, allowed)
    return problems


def test_manifests_and_rendered_job_use_only_kubernetes_api_fields():
    models = _k8s_models()
    kinds = {"Namespace": "V1Namespace", "ServiceAccount": "V1ServiceAccount", "Role": "V1Role",
             "RoleBinding": "V1RoleBinding", "ConfigMap": "V1ConfigMap", "Deployment": "V1Deployment"}
    problems = []
    for obj in k8s_objects():
        problems += _unknown_fields(models, obj, kinds[obj["kind"]], obj["kind"], set())
    rendered = apply_defaults_manifest()
    # prefect-kubernetes requires these two in the pod spec (and the API server drops them there).
    prefect_required = {"Job.spec.template.spec.parallelism", "Job.spec.template.spec.completions"}
    problems += _unknown_fields(models, rendered, "V1Job", "Job", prefect_required)
    assert not problems, f"fields the Kubernetes API does not know: {problems}"


def apply_defaults_manifest() -> dict[str, Any]:
    from prefect.utilities.templating import apply_values

    template = load_template()
    return apply_values(template["job_configuration"], template_defaults(template))["job_manifest"]


# ---------------------------------------------------------------------------------------------------
# external tools, when installed


def _compose_command() -> list[str] | None:
    for candidate in (["docker", "compose"], ["docker-compose"]):
        if not shutil.which(candidate[0]):
            continue
        try:
            probe = subprocess.run([*candidate, "version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0 and re.search(r"v?2\.|v?[3-9]\.", probe.stdout):
            return candidate
    return None


def test_docker_compose_config_accepts_the_file():
    command = _compose_command()
    if command is None:
        pytest.skip("no Docker Compose v2 (`docker compose` plugin or docker-compose binary) is installed")
    env = {**os.environ, **DUMMY_ENV}
    result = subprocess.run([*command, "-f", str(COMPOSE_FILE), "--profile", "docker", "--profile", "airflow",
                             "config", "-q"],
                            capture_output=True, text=True, timeout=120, env=env)
    if result.returncode != 0 and re.search(r"daemon|docker\.sock|Cannot connect", result.stderr, re.I):
        pytest.skip(f"docker compose config needs the Docker engine here: {result.stderr.strip()[:200]}")
    assert result.returncode == 0, result.stderr


def test_kubectl_kustomize_builds_the_manifests():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    result = subprocess.run([kubectl, "kustomize", str(K8S_DIR)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    objects = [d for d in yaml.safe_load_all(result.stdout) if d]
    generated = [o for o in objects if o["kind"] == "ConfigMap" and TEMPLATE_FILE.name in o.get("data", {})]
    assert len(generated) == 1
    assert json.loads(generated[0]["data"][TEMPLATE_FILE.name]) == load_template()
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    names = {v["configMap"]["name"] for v in deployment["spec"]["template"]["spec"]["volumes"] if "configMap" in v}
    assert generated[0]["metadata"]["name"] in names, "the worker does not mount the generated ConfigMap"
