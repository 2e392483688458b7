# ecs.tf - the image repositories, the cluster, and three services from the two
# images of deploy/Dockerfile:
#   app     community-server (the JSON API, image `api`) behind the ALB's /v1/*
#           and /openapi.json paths;
#   web     the Next.js site (image `web`), the ALB's default route;
#   worker  `community worker` (image `api`, another command): reminders,
#           waitlist notices, the mail outbox; no load balancer;
# and the one-off migration task (image `api`) run before each deployment.
# Each service scales on its own; all of them share one PostgreSQL database.
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
  ] : [])

  app_secrets = [
    { name = "COMMUNITY_DB", valueFrom = aws_secretsmanager_secret.db_uri.arn },
    { name = "COMMUNITY_METRICS_TOKEN", valueFrom = "${aws_secretsmanager_secret.api_keys.arn}:COMMUNITY_METRICS_TOKEN::" },
    { name = "COMMUNITY_EMBEDDINGS_KEY", valueFrom = "${aws_secretsmanager_secret.api_keys.arn}:COMMUNITY_EMBEDDINGS_KEY::" },
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

# The web tier: the Next.js app with libcommunity in process (the N-API addon),
# on the same database as the API.
resource "aws_ecs_task_definition" "web" {
  family                   = "${local.prefix}-web"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.web_cpu
  memory                   = var.web_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name         = "web"
    image        = local.web_image
    essential    = true
    user         = "10001:10001"
    stopTimeout  = 30
    portMappings = [{ name = "http", containerPort = 3000, protocol = "tcp" }]
    environment = [
      { name = "PORT", value = "3000" },
      { name = "HOSTNAME", value = "0.0.0.0" },
    ]
    secrets         = [local.app_secrets[0]]
    linuxParameters = { initProcessEnabled = true }
    healthCheck = {
      command     = ["CMD", "node", "-e", "fetch('http://127.0.0.1:3000/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
      interval    = 10
      timeout     = 3
      retries     = 3
      startPeriod = 20
    }
    logConfiguration = {
      logDriver = "awslogs"
      options   = merge(local.log_options, { "awslogs-stream-prefix" = "web" })
    }
  }])
}

resource "aws_ecs_service" "web" {
  name                               = "${local.prefix}-web"
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.web.arn
  desired_count                      = var.web_min_count
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
    target_group_arn = aws_lb_target_group.web.arn
    container_name   = "web"
    container_port   = 3000
  }

  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener.https]
}

# The job worker: `community worker` from the API image. It listens on no port;
# ECS replaces a task whose process exits. SIGTERM drains running jobs within
# --drain-ms (30 s, under stopTimeout); jobs of a killed task are taken over by
# the others when their lease lapses.
resource "aws_ecs_task_definition" "worker" {
  family                   = "${local.prefix}-worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.worker_cpu
  memory                   = var.worker_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name                   = "worker"
    image                  = local.image
    essential              = true
    user                   = "10001:10001"
    readonlyRootFilesystem = true
    stopTimeout            = 35
    entryPoint             = ["/usr/local/bin/community"]
    command                = ["worker", "--json-logs", "--drain-ms", "30000"]
    environment            = local.worker_environment
    secrets                = local.worker_secrets
    linuxParameters        = { initProcessEnabled = true }
    logConfiguration = {
      logDriver = "awslogs"
      options   = merge(local.log_options, { "awslogs-stream-prefix" = "worker" })
    }
  }])
}

resource "aws_ecs_service" "worker" {
  name                               = "${local.prefix}-worker"
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.worker.arn
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
}
