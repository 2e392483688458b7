# redis.tf - ElastiCache Redis 7 in the private subnets, encrypted at rest,
# automatic failover with two or more nodes. community-server uses it, as
# COMMUNITY_REDIS, for one rate-limit budget per client across every task
# (docs/operations-guide.md, Scaling); the worker and the web tier get the
# same URL (every process that writes shares the read cache's version).
#
# The server's Redis client (hiredis 0.14) speaks plain redis:// only, without
# TLS, so in-transit encryption is off by default
# (var.redis_transit_encryption): the traffic stays inside the VPC, and the
# security group admits only the tasks. ElastiCache allows an AUTH token only
# with in-transit encryption; with it on (for other clients), the URL is
# rediss:// with the token, and the tasks get no COMMUNITY_REDIS (the server
# would refuse the scheme). The URL is kept in the secret <prefix>/redis-url.
# ElastiCache has no write-only AUTH token argument: a token given here is
# stored in the (encrypted) state.

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
  transit_encryption_enabled = var.redis_transit_encryption
  auth_token                 = var.redis_transit_encryption && var.redis_auth_token != "" ? var.redis_auth_token : null

  snapshot_retention_limit = 1
  apply_immediately        = false
}

resource "aws_secretsmanager_secret" "redis_url" {
  name                    = "${local.prefix}/redis-url"
  description             = "COMMUNITY_REDIS: the Redis URL (with the AUTH token when there is one)"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "redis_url" {
  secret_id = aws_secretsmanager_secret.redis_url.id
  secret_string = (
    !var.redis_transit_encryption ? "redis://${aws_elasticache_replication_group.main.primary_endpoint_address}:6379/0" :
    var.redis_auth_token != "" ? "rediss://:${var.redis_auth_token}@${aws_elasticache_replication_group.main.primary_endpoint_address}:6379" :
    "rediss://${aws_elasticache_replication_group.main.primary_endpoint_address}:6379"
  )
}
