# redis.tf - ElastiCache Redis 7 in the private subnets: encrypted at rest
# and in transit, an AUTH token when var.redis_auth_token is set, automatic
# failover with two or more nodes. community-server does not use Redis yet;
# it is provisioned for shared rate-limit and idempotency state across
# tasks. Its URL (with the token) is kept in the secret <prefix>/redis-url,
# which no task reads today. ElastiCache has no write-only AUTH token
# argument: a token given here is stored in the (encrypted) state.

resource "aws_elasticache_subnet_group" "main" {
  name       = local.prefix
  subnet_ids = aws_subnet.private[*].id
}

resource "aws_elasticache_replication_group" "main" {
  replication_group_id = local.prefix
  description          = "community: shared cache"
  engine               = "redis"
  engine_version       = "7.1"
  node_type            = var.redis_node_type
  num_cache_clusters   = var.redis_num_nodes
  port                 = 6379
  parameter_group_name = "default.redis7"
  subnet_group_name    = aws_elasticache_subnet_group.main.name
  security_group_ids   = [aws_security_group.redis.id]

  automatic_failover_enabled = var.redis_num_nodes > 1
  multi_az_enabled           = var.redis_num_nodes > 1
  at_rest_encryption_enabled = true
  transit_encryption_enabled = true
  auth_token                 = var.redis_auth_token != "" ? var.redis_auth_token : null

  snapshot_retention_limit = 1
  apply_immediately        = false
}

resource "aws_secretsmanager_secret" "redis_url" {
  name                    = "${local.prefix}/redis-url"
  description             = "Redis URL (rediss://, with the AUTH token)"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "redis_url" {
  secret_id     = aws_secretsmanager_secret.redis_url.id
  secret_string = var.redis_auth_token != "" ? "rediss://:${var.redis_auth_token}@${aws_elasticache_replication_group.main.primary_endpoint_address}:6379" : "rediss://${aws_elasticache_replication_group.main.primary_endpoint_address}:6379"
}
