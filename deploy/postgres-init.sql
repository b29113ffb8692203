-- Runs once, when the Postgres volume is first created: a second database for Dagster's instance storage (runs,
-- event logs, schedules), beside the warehouse database `oragami` that POSTGRES_DB creates.
CREATE DATABASE dagster OWNER oragami;
