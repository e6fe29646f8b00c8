"""One-shot (compose service mlflow-users): create MLflow's `synth-runner` and `viewer` users as the
admin, with the passwords from the environment; a user that already exists is left as it is.
Passwords are read from the environment and never printed."""
import base64
import json
import os
import sys
import urllib.error
import urllib.request

URI = os.environ.get("MLFLOW_URI", "http://mlflow:5000")
ADMIN = base64.b64encode(f"admin:{os.environ['MLFLOW_ADMIN_PASSWORD']}".encode()).decode()

for user, variable in (("synth-runner", "MLFLOW_RUNNER_PASSWORD"), ("viewer", "MLFLOW_VIEWER_PASSWORD")):
    body = json.dumps({"username": user, "password": os.environ[variable]}).encode()
    request = urllib.request.Request(f"{URI}/api/2.0/mlflow/users/create", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Basic {ADMIN}"})
    try:
        urllib.request.urlopen(request, timeout=30).close()
        print(f"created MLflow user {user}")
    except urllib.error.HTTPError as e:
        if "RESOURCE_ALREADY_EXISTS" not in e.read().decode("utf-8", "replace"):
            sys.exit(f"could not create MLflow user {user}: HTTP {e.code}")
        print(f"MLflow user {user} exists")
