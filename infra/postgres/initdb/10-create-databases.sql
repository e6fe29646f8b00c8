-- Runs once, when the postgres service starts on an empty data volume (docker-entrypoint-initdb.d),
-- as POSTGRES_USER. One server, three databases:
--   prefect  Prefect server's state (PREFECT_API_DATABASE_CONNECTION_URL in docker-compose.yml)
--   mlflow   MLflow's runs, metrics and model registry (MLFLOW_BACKEND_STORE_URI)
--   airflow  Airflow's metadata (profile airflow, AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)
-- Both services create their own tables on first start. To run this again, remove the volume:
--   docker compose down -v
CREATE DATABASE prefect;
CREATE DATABASE mlflow;
CREATE DATABASE airflow;
