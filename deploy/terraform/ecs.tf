# ecs.tf - the image repository, the cluster, the server's task definition
# and service, and the one-off migration task run before each deployment.
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

resource "aws_ecr_lifecycle_policy" "app" {
  repository = aws_ecr_repository.app.name
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
  image = "${aws_ecr_repository.app.repository_url}:${var.image_tag}"

  app_environment = concat([
    { name = "COMMUNITY_LISTEN", value = "0.0.0.0:8080" },
    { name = "COMMUNITY_TRUST_PROXY", value = "1" },
    { name = "COMMUNITY_LOG_LEVEL", value = var.log_level },
    { name = "COMMUNITY_WORKERS", value = tostring(var.workers) },
    { name = "COMMUNITY_POOL_SIZE", value = tostring(var.pool_size) },
    ], length(var.cors_origins) > 0 ? [
    { name = "COMMUNITY_CORS_ORIGINS", value = join(",", var.cors_origins) },
  ] : [])

  app_secrets = [
    { name = "COMMUNITY_DB", valueFrom = aws_secretsmanager_secret.db_uri.arn },
    { name = "COMMUNITY_METRICS_TOKEN", valueFrom = "${aws_secretsmanager_secret.api_keys.arn}:COMMUNITY_METRICS_TOKEN::" },
    { name = "COMMUNITY_EMBEDDINGS_KEY", valueFrom = "${aws_secretsmanager_secret.api_keys.arn}:COMMUNITY_EMBEDDINGS_KEY::" },
  ]

  log_options = {
    "awslogs-group"   = aws_cloudwatch_log_group.app.name
    "awslogs-region"  = var.region
    "mode"            = "non-blocking"
    "max-buffer-size" = "4m"
  }
}

resource "aws_ecs_task_definition" "app" {
  family                   = "${local.prefix}-app"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.container_cpu
  memory                   = var.container_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name                   = "app"
    image                  = local.image
    essential              = true
    user                   = "10001:10001"
    readonlyRootFilesystem = true
    stopTimeout            = 30
    portMappings           = [{ name = "http", containerPort = 8080, protocol = "tcp" }]
    environment            = local.app_environment
    secrets                = local.app_secrets
    ulimits                = [{ name = "nofile", softLimit = 65536, hardLimit = 65536 }]
    linuxParameters        = { initProcessEnabled = true }
    healthCheck = {
      command     = ["CMD", "curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]
      interval    = 10
      timeout     = 3
      retries     = 3
      startPeriod = 15
    }
    logConfiguration = {
      logDriver = "awslogs"
      options   = merge(local.log_options, { "awslogs-stream-prefix" = "app" })
    }
  }])
}

# `community migrate` with the server's image and settings. Run it with
# `aws ecs run-task` before updating the service (docs/operations-guide.md).
resource "aws_ecs_task_definition" "migrate" {
  family                   = "${local.prefix}-migrate"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name                   = "migrate"
    image                  = local.image
    essential              = true
    user                   = "10001:10001"
    readonlyRootFilesystem = true
    entryPoint             = ["/usr/local/bin/community"]
    command                = ["migrate"]
    environment            = [{ name = "COMMUNITY_LOG_LEVEL", value = var.log_level }]
    secrets                = [local.app_secrets[0]]
    logConfiguration = {
      logDriver = "awslogs"
      options   = merge(local.log_options, { "awslogs-stream-prefix" = "migrate" })
    }
  }])
}

resource "aws_ecs_service" "app" {
  name                               = "${local.prefix}-app"
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.app.arn
  desired_count                      = var.min_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  health_check_grace_period_seconds  = 30
  deployment_minimum_healthy_percent = 100
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

  load_balancer {
    target_group_arn = aws_lb_target_group.app.arn
    container_name   = "app"
    container_port   = 8080
  }

  # The autoscaling policies own the task count after creation.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.https]
}
