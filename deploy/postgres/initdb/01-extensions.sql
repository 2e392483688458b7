-- 01-extensions.sql - run once by the postgres image when it creates the
-- database (docker-entrypoint-initdb.d). pgvector needs no
-- shared_preload_libraries: CREATE EXTENSION is enough. On RDS run the same
-- statement once as the master user (docs/operations-guide.md).
CREATE EXTENSION IF NOT EXISTS vector;
