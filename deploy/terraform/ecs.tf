# ecs.tf - the image repositories, the cluster, and three services from the two
# images of deploy/Dockerfile:
#   app     community-server (the JSON API, image `api`) behind the ALB's /v1/*
#           and /openapi.json paths;
#   web     the Next.js site (image `web`), the ALB's default route;
#   worker  `community worker` (image `api`, another command): reminders,
#           waitlist notices, the mail outbox; no load balancer;
# and the one-off migration task (image `api`) run before each deployment.
# Their task definitions are in tasks.tf. Each service scales on its own; all of them share one PostgreSQL database.
#
# The container logs JSON lines on stdout; the awslogs driver sends them to
# CloudWatch Logs unchanged (one event per line, queryable with Logs
# Insights). Secrets reach the container as environment variables from
# Secrets Manager, read by the execution role at start-up.

resource "aws_ecr_repository" "app" {
  name                 = local.prefix
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }
}

# The web image (deploy/Dockerfile --target web), tagged like the API image.
resource "aws_ecr_repository" "web" {
  name                 = "${local.prefix}-web"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }
}

resource "aws_ecr_lifecycle_policy" "app" {
  for_each   = { app = aws_ecr_repository.app.name, web = aws_ecr_repository.web.name }
  repository = each.value
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last 50 images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = 50
      }
      action = { type = "expire" }
    }]
  })
}

resource "aws_ecs_cluster" "main" {
  name = local.prefix

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "app" {
  name              = "/ecs/${local.prefix}"
  retention_in_days = var.log_retention_days
}

locals {
  image     = "${aws_ecr_repository.app.repository_url}:${var.image_tag}"
  web_image = "${aws_ecr_repository.web.repository_url}:${var.image_tag}"

  app_environment = concat([
    { name = "COMMUNITY_LISTEN", value = "0.0.0.0:8080" },
    { name = "COMMUNITY_TRUST_PROXY", value = "1" },
    { name = "COMMUNITY_LOG_LEVEL", value = var.log_level },
    { name = "COMMUNITY_WORKERS", value = tostring(var.workers) },
    { name = "COMMUNITY_POOL_SIZE", value = tostring(var.pool_size) },
    ], length(var.cors_origins) > 0 ? [
    { name = "COMMUNITY_CORS_ORIGINS", value = join(",", var.cors_origins) },
    ] : [], var.uploads_s3 ? [
    # Uploads in the bucket of s3.tf; browsers PUT to it through presigned
    # URLs (the bucket's CORS rule admits the site's origin). No keys: the
    # server signs with the task role's credentials (iam.tf).
    { name = "COMMUNITY_S3_ENDPOINT", value = "https://s3.${var.region}.amazonaws.com" },
    { name = "COMMUNITY_S3_BUCKET", value = aws_s3_bucket.uploads.bucket },
    { name = "COMMUNITY_S3_REGION", value = var.region },
    { name = "COMMUNITY_S3_VIRTUAL_HOST", value = "1" },
  ] : [])

  # COMMUNITY_DB first: the migration and web tasks take only that one.
  app_secrets = concat([
    { name = "COMMUNITY_DB", valueFrom = aws_secretsmanager_secret.db_uri.arn },
    { name = "COMMUNITY_METRICS_TOKEN", valueFrom = "${aws_secretsmanager_secret.api_keys.arn}:COMMUNITY_METRICS_TOKEN::" },
    { name = "COMMUNITY_EMBEDDINGS_KEY", valueFrom = "${aws_secretsmanager_secret.api_keys.arn}:COMMUNITY_EMBEDDINGS_KEY::" },
  ], local.redis_secrets)

  # COMMUNITY_REDIS (redis.tf) for the API (one rate-limit budget per client
  # across tasks), the worker and the web tier (the shared read cache). The server's Redis client speaks plain
  # redis:// only, so the URL is given only when ElastiCache runs without
  # in-transit encryption (var.redis_transit_encryption = false).
  redis_secrets = var.redis_transit_encryption ? [] : [
    { name = "COMMUNITY_REDIS", valueFrom = aws_secretsmanager_secret.redis_url.arn },
  ]

  # The worker: the database and the keys of the server, plus SMTP (SES's SMTP
  # interface; COMMUNITY_SMTP in the api-keys secret) for the mail outbox.
  worker_environment = [
    { name = "COMMUNITY_LOG_LEVEL", value = var.log_level },
    { name = "COMMUNITY_MAIL_FROM", value = "${var.mail_from_name} <no-reply@${var.domain}>" },
    { name = "COMMUNITY_PUBLIC_URL", value = "https://${var.domain}" },
  ]
  worker_secrets = concat(local.app_secrets, [
    { name = "COMMUNITY_SMTP", valueFrom = "${aws_secretsmanager_secret.api_keys.arn}:COMMUNITY_SMTP::" },
  ])

  log_options = {
    "awslogs-group"   = aws_cloudwatch_log_group.app.name
    "awslogs-region"  = var.region
    "mode"            = "non-blocking"
    "max-buffer-size" = "4m"
  }
}

resource "aws_ecs_service" "app" {
  name                              = "${local.prefix}-app"
  cluster                           = aws_ecs_cluster.main.id
  task_definition                   = aws_ecs_task_definition.service["app"].arn
  desired_count                     = var.min_count
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  health_check_grace_period_seconds = 30
  propagate_tags                    = "SERVICE"

  # Blue/green by CodeDeploy (codedeploy.tf), which rolls back on alarms.
  deployment_controller {
    type = "CODE_DEPLOY"
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.app.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.app.arn
    container_name   = "app"
    container_port   = 8080
  }

  # The autoscaling policies own the task count after creation, CodeDeploy
  # the task definition and the target group.
  lifecycle {
    ignore_changes = [desired_count, task_definition, load_balancer]
  }

  depends_on = [aws_lb_listener.https]
}

resource "aws_ecs_service" "web" {
  name                              = "${local.prefix}-web"
  cluster                           = aws_ecs_cluster.main.id
  task_definition                   = aws_ecs_task_definition.service["web"].arn
  desired_count                     = var.web_min_count
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  health_check_grace_period_seconds = 30
  propagate_tags                    = "SERVICE"

  # Blue/green by CodeDeploy (codedeploy.tf), which rolls back on alarms.
  deployment_controller {
    type = "CODE_DEPLOY"
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.app.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.web.arn
    container_name   = "web"
    container_port   = 3000
  }

  lifecycle {
    ignore_changes = [desired_count, task_definition, load_balancer]
  }

  depends_on = [aws_lb_listener.https]
}

resource "aws_ecs_service" "worker" {
  name                               = "${local.prefix}-worker"
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.service["worker"].arn
  desired_count                      = var.worker_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = 50
  deployment_maximum_percent         = 200
  propagate_tags                     = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.app.id]
    assign_public_ip = false
  }

  # The CD workflow deploys new task definition revisions (a rolling update;
  # the circuit breaker rolls back tasks that do not stay running).
  lifecycle {
    ignore_changes = [task_definition]
  }
}
