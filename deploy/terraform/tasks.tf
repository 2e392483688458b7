# tasks.tf - the four ECS task definitions, one resource with for_each over
# local.tasks: what differs between them (image, size, command, settings,
# health check) is in that map; what they share (Fargate, x86-64 Linux, the
# two roles, user 10001, essential, the awslogs driver with the task's name
# as stream prefix) is written once below.
#   app      community-server (image `api`), port 8080, read-only root, and
#            the metrics collector beside it (metrics.tf)
#   migrate  `community migrate` (image `api`), run before each deployment
#   web      the Next.js site (image `web`), port 3000
#   worker   `community worker` (image `api`), no port

locals {
  # Every container: the unprivileged user of the images, essential, logs
  # to the service's log group under the task's stream prefix.
  container_base = {
    for name in ["app", "migrate", "web", "worker"] : name => {
      name      = name
      essential = true
      user      = "10001:10001"
      logConfiguration = {
        logDriver = "awslogs"
        options   = merge(local.log_options, { "awslogs-stream-prefix" = name })
      }
    }
  }

  # The container definitions are JSON strings already, so that the four
  # entries of the map share one type.
  tasks = {
    app = {
      cpu    = var.container_cpu
      memory = var.container_memory
      containers = jsonencode(concat([merge(local.container_base.app, {
        image                  = local.image
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
      })], var.metrics_collector ? [local.collector_container] : []))
    }

    # `community migrate` with the server's image and settings. Run it with
    # `aws ecs run-task` before updating the services (docs/operations-guide.md).
    migrate = {
      cpu    = 256
      memory = 512
      containers = jsonencode([merge(local.container_base.migrate, {
        image                  = local.image
        readonlyRootFilesystem = true
        entryPoint             = ["/usr/local/bin/community"]
        command                = ["migrate"]
        environment            = [{ name = "COMMUNITY_LOG_LEVEL", value = var.log_level }]
        secrets                = [local.app_secrets[0]]
      })])
    }

    # The web tier: the Next.js app with libcommunity in process (the N-API
    # addon), on the same database as the API, and on the same Redis: its
    # cached reads share the version that the API's writes bump.
    web = {
      cpu    = var.web_cpu
      memory = var.web_memory
      containers = jsonencode([merge(local.container_base.web, {
        image        = local.web_image
        stopTimeout  = 30
        portMappings = [{ name = "http", containerPort = 3000, protocol = "tcp" }]
        environment = [
          { name = "PORT", value = "3000" },
          { name = "HOSTNAME", value = "0.0.0.0" },
        ]
        secrets         = concat([local.app_secrets[0]], local.redis_secrets)
        linuxParameters = { initProcessEnabled = true }
        healthCheck = {
          command     = ["CMD", "node", "-e", "fetch('http://127.0.0.1:3000/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
          interval    = 10
          timeout     = 3
          retries     = 3
          startPeriod = 20
        }
      })])
    }

    # The job worker: `community worker` from the API image. It listens on no
    # port; ECS replaces a task whose process exits. SIGTERM drains running
    # jobs within --drain-ms (30 s, under stopTimeout); jobs of a killed task
    # are taken over by the others when their lease lapses.
    worker = {
      cpu    = var.worker_cpu
      memory = var.worker_memory
      containers = jsonencode([merge(local.container_base.worker, {
        image                  = local.image
        readonlyRootFilesystem = true
        stopTimeout            = 35
        entryPoint             = ["/usr/local/bin/community"]
        command                = ["worker", "--json-logs", "--drain-ms", "30000"]
        environment            = local.worker_environment
        secrets                = local.worker_secrets
        linuxParameters        = { initProcessEnabled = true }
      })])
    }
  }
}

resource "aws_ecs_task_definition" "service" {
  for_each                 = local.tasks
  family                   = "${local.prefix}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  container_definitions    = each.value.containers

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
}

# The task definitions were four resources before: keep their state.
moved {
  from = aws_ecs_task_definition.app
  to   = aws_ecs_task_definition.service["app"]
}

moved {
  from = aws_ecs_task_definition.migrate
  to   = aws_ecs_task_definition.service["migrate"]
}

moved {
  from = aws_ecs_task_definition.web
  to   = aws_ecs_task_definition.service["web"]
}

moved {
  from = aws_ecs_task_definition.worker
  to   = aws_ecs_task_definition.service["worker"]
}
