-- One Postgres for the stack's two servers: MLflow (the database POSTGRES_DB creates,
-- `mlflow`) and Prefect (this one). Runs once, when the data volume is first created.
CREATE DATABASE prefect;
