# secrets.tf - what the tasks read from Secrets Manager at start-up:
#   <prefix>/db-uri    the whole COMMUNITY_DB URI, with the password;
#   <prefix>/api-keys  JSON {COMMUNITY_METRICS_TOKEN, COMMUNITY_EMBEDDINGS_KEY}.
# Terraform writes the first api-keys value only; rotate the keys in Secrets
# Manager and restart the service (`aws ecs update-service
# --force-new-deployment`): tasks read secrets when they start.
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
  secret_id     = aws_secretsmanager_secret.db_uri.id
  secret_string = "postgresql://${var.db_username}:${random_password.db.result}@${aws_db_instance.main.address}:${aws_db_instance.main.port}/${var.db_name}?sslmode=require"
}

resource "random_password" "metrics_token" {
  length  = 40
  special = false
}

resource "aws_secretsmanager_secret" "api_keys" {
  name                    = "${local.prefix}/api-keys"
  description             = "API keys and tokens for community-server"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "api_keys" {
  secret_id = aws_secretsmanager_secret.api_keys.id
  secret_string = jsonencode({
    COMMUNITY_METRICS_TOKEN  = random_password.metrics_token.result
    COMMUNITY_EMBEDDINGS_KEY = var.embeddings_api_key
  })

  lifecycle {
    ignore_changes = [secret_string]
  }
}
