"""The Prefect UI in a real browser: a user logs in (the server's basic auth), opens a deployment's
custom-run form, changes the epochs, submits, and the run completes with that value.

Headless Chromium (tests/support/browser.py); the screenshot of the filled form is saved in
SYNTH_TEST_ARTIFACTS (default: the test's temporary folder). Its Airflow twin is in
tests/airflow/test_server.py.
"""
from __future__ import annotations

import pytest
from mlflow import MlflowClient

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, browser_or_skip, screenshots
from tests.support.servers import PREFECT_AUTH, tiny_actgan_config, wait_final

pytestmark = pytest.mark.slow


def test_custom_run_form_in_the_prefect_ui(stack, workers, prefect_client, tiny_data, tmp_path):
    sync_playwright = browser_or_skip()
    shots = screenshots(tmp_path)
    # a deployment like diamonds-nightly (same flow, pool, pull step, form) whose defaults are a tiny run
    nightly = prefect_client.read_deployment_by_name("synthetic-refresh/diamonds-nightly")
    output = tmp_path / "ui_gems_synth.parquet"
    deployment_id = prefect_client.create_deployment(
        flow_id=nightly.flow_id, name="ui-check", work_pool_name=nightly.work_pool_name,
        entrypoint=nightly.entrypoint, pull_steps=nightly.pull_steps, enforce_parameter_schema=True,
        parameter_openapi_schema=nightly.parameter_openapi_schema,
        parameters={"config": tiny_actgan_config(tiny_data["table"], output, epochs=5)})

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(f"{stack.prefect_ui}/deployments")
            page.get_by_placeholder("admin:pass").fill(PREFECT_AUTH)  # the server's basic auth, asked for once
            page.get_by_role("button", name="Login").click()
            page.wait_for_function("!location.pathname.startsWith('/login')")  # logged in: the UI moved on
            page.goto(f"{stack.prefect_ui}/deployments")  # the password stays in the browser's storage
            page.get_by_text("ui-check", exact=True).first.click()  # the deployment, from the list
            page.wait_for_function(f"location.pathname.endsWith('/deployments/deployment/{deployment_id}')")
            page.get_by_role("button", name="Run", exact=True).click()
            page.get_by_text("Custom run", exact=True).click()
            epochs_label = page.get_by_text("Epochs (Optional)", exact=True)
            epochs_label.wait_for(timeout=60_000)
            epochs = epochs_label.locator("xpath=ancestor::*[.//input][1]").locator("input").first
            assert epochs.input_value() == "5"  # the deployment's default, shown in the form
            epochs.fill("2")
            epochs.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "prefect-ui-custom-run-form.png"))
            with page.expect_response(lambda r: r.request.method == "POST" and "create_flow_run" in r.url,
                                      timeout=120_000) as answer:
                page.get_by_role("button", name="Submit").click()
            assert answer.value.ok, f"the UI's request was refused: {answer.value.status} {answer.value.text()[:500]}"
            created = prefect_client.read_flow_run(answer.value.json()["id"])  # the run the form created
            assert created.deployment_id == deployment_id
        finally:
            browser.close()

    assert (shots / "prefect-ui-custom-run-form.png").stat().st_size > 10_000
    run = wait_final(prefect_client, created.id)
    flow_run_id = str(run.id)
    assert run.state.is_completed()
    assert run.parameters["config"]["model"]["epochs"] == 2
    client = MlflowClient(stack.mlflow_uri)
    experiment = client.get_experiment_by_name("ui_gems_synth")
    [mlrun] = client.search_runs([experiment.experiment_id],
                                 filter_string=f"tags.`prefect.flow_run_id` = '{flow_run_id}'")
    assert mlrun.data.params["model.epochs"] == "2"
    assert [m.step for m in client.get_metric_history(mlrun.info.run_id, "wasserstein")] == [1, 2]

