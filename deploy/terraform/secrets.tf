# secrets.tf - what the tasks read from Secrets Manager at start-up:
#   <prefix>/db-uri    the whole COMMUNITY_DB URI, with the password;
#   <prefix>/api-keys  JSON {COMMUNITY_METRICS_TOKEN, COMMUNITY_EMBEDDINGS_KEY,
#                      COMMUNITY_SMTP} (COMMUNITY_SMTP: the worker's SES
#                      SMTP URI, smtp://USER:PASS@email-smtp.<region>.amazonaws.com:587/?tls=require);
#   <prefix>/redis-url COMMUNITY_REDIS (redis.tf).
# The database password and the metrics token are ephemeral input variables
# written through write-only arguments: Terraform keeps them in neither plan
# nor state. They are written when the environment is created and again
# whenever var.secrets_version changes, and those applies need them:
#   TF_VAR_db_password=$(openssl rand -hex 24) \
#   TF_VAR_metrics_token=$(openssl rand -hex 20) terraform apply ...
# Other applies leave both unset. Other changes to the keys are made in
# Secrets Manager; then restart the service
# (`aws ecs update-service --force-new-deployment`): tasks read secrets when
# they start.
#
# TLS: sslmode=require encrypts the connection. For verify-full, add the RDS
# CA bundle to the image and append sslrootcert=/path/to/global-bundle.pem
# (Debian 12's libpq 15 has no sslrootcert=system).

resource "aws_secretsmanager_secret" "db_uri" {
  name                    = "${local.prefix}/db-uri"
  description             = "COMMUNITY_DB for community-server (PostgreSQL URI with password)"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "db_uri" {
  secret_id                = aws_secretsmanager_secret.db_uri.id
  secret_string_wo         = var.db_password == null ? null : "postgresql://${var.db_username}:${var.db_password}@${aws_db_instance.main.address}:${aws_db_instance.main.port}/${var.db_name}?sslmode=require"
  secret_string_wo_version = var.secrets_version
}

resource "aws_secretsmanager_secret" "api_keys" {
  name                    = "${local.prefix}/api-keys"
  description             = "API keys and tokens for community-server"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "api_keys" {
  secret_id = aws_secretsmanager_secret.api_keys.id
  secret_string_wo = var.metrics_token == null ? null : jsonencode({
    COMMUNITY_METRICS_TOKEN  = var.metrics_token
    COMMUNITY_EMBEDDINGS_KEY = var.embeddings_api_key
    COMMUNITY_SMTP           = var.smtp_uri
  })
  secret_string_wo_version = var.secrets_version
}
