# plan.tftest.hcl - assertions on the whole configuration for one
# environment, run offline against a mocked AWS provider. The environment's
# values come from the command line: deploy/terraform-check.sh runs
#   terraform test -var-file=envs/<env>/terraform.tfvars
# once for each of envs/*/ (meson test terraform).

mock_provider "aws" {
  source = "./tests/mocks/aws"
}

mock_provider "aws" {
  alias  = "backup"
  source = "./tests/mocks/backup"
}

# Not in the tfvars files: the image comes from the pipeline, the secrets
# from the operator (ephemeral).
variables {
  image_tag     = "0.1.0"
  db_password   = "testpassword0123456789"
  metrics_token = "testmetricstoken0123456789"
}

run "environment" {
  # apply against the mock: computed attributes get values (the ARNs above,
  # which the provider checks; random strings elsewhere).
  command = apply

  # The web tier's target group gets its own ARN, so that the routing
  # assertions below can tell the two target groups apart.
  override_resource {
    target = aws_lb_target_group.web
    values = {
      arn = "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/community-web/fedcba9876543210"
    }
  }

  assert {
    condition     = var.environment != "prod" || (aws_db_instance.main.multi_az && aws_db_instance.main.backup_retention_period >= 7)
    error_message = "prod: the database is Multi-AZ with at least 7 days of automated backups"
  }

  assert {
    # `||` evaluates both sides: try() covers environments without a replica.
    condition     = var.environment != "prod" || try(aws_db_instance_automated_backups_replication.main[0].retention_period >= 7, false)
    error_message = "prod: the automated backups are replicated to a second region"
  }

  assert {
    condition     = var.backup_region != var.region || !var.db_backup_replication
    error_message = "backups are replicated to another region than the database's"
  }

  assert {
    condition     = aws_db_instance.main.backup_retention_period >= 1
    error_message = "every environment keeps automated backups"
  }

  assert {
    condition     = aws_db_instance.main.password == null
    error_message = "the database password is write-only (password_wo), never in the state"
  }

  assert {
    condition     = aws_sns_topic.alarms.name == "${var.name}-${var.environment}-alarms"
    error_message = "every environment has its alarm topic"
  }

  assert {
    condition     = length(aws_sns_topic_subscription.email) == length(var.alarm_emails) && length(var.alarm_emails) > 0
    error_message = "every environment subscribes at least one e-mail address to the alarm topic"
  }

  assert {
    condition = alltrue([
      for name in concat(
        [for k in keys(local.ecs_services) : "${k}-cpu-high"],
        [for k in keys(local.ecs_services) : "${k}-memory-high"],
        ["db-connections-high", "db-free-storage-low", "queue-backlog", "queue-stalled"],
        var.db_read_replica ? ["db-replica-lag"] : [],
        var.uploads_replication ? ["uploads-replication-latency"] : [],
      ) : aws_cloudwatch_metric_alarm.metric[name].alarm_name == "${var.name}-${var.environment}-${name}"
      ]) && alltrue([
      for name in ["alb-unhealthy-targets", "alb-no-healthy-targets", "alb-web-unhealthy-targets", "alb-web-no-healthy-targets"] :
      aws_cloudwatch_metric_alarm.target_health[name].alarm_name == "${var.name}-${var.environment}-${name}"
    ]) && aws_cloudwatch_metric_alarm.alb_5xx_rate.alarm_name != ""
    error_message = "every environment has the CPU and memory alarms per service, the ALB 5xx and target health alarms (API and web), the database connection and storage alarms, the job queue alarms, and the replica lag and uploads replication alarms where those exist"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.metric["queue-backlog"].namespace == var.metrics_namespace &&
      aws_cloudwatch_metric_alarm.metric["queue-backlog"].metric_name == "community_job_queue_depth" &&
      aws_cloudwatch_metric_alarm.metric["queue-backlog"].dimensions.state == "queued" &&
      aws_cloudwatch_metric_alarm.metric["queue-stalled"].metric_name == "community_job_queue_oldest_age_seconds" &&
      strcontains(one([for c in jsondecode(aws_ecs_task_definition.service["app"].container_definitions) : c if c.name == "metrics"]).environment[0].value, "community_job_queue_depth") &&
      !one([for c in jsondecode(aws_ecs_task_definition.service["app"].container_definitions) : c if c.name == "metrics"]).essential
    )
    error_message = "the queue alarms watch the metrics that the collector beside each API task (not essential) sends to CloudWatch"
  }

  assert {
    condition     = var.environment != "prod" || try(aws_db_instance.replica[0].replicate_source_db == aws_db_instance.main.identifier, false)
    error_message = "prod: the database has a read replica, watched by the replica lag alarm"
  }

  assert {
    condition = (
      aws_s3_bucket_versioning.uploads.versioning_configuration[0].status == "Enabled" &&
      contains(one(aws_s3_bucket_cors_configuration.uploads.cors_rule).allowed_methods, "PUT") &&
      contains(one(aws_s3_bucket_cors_configuration.uploads.cors_rule).allowed_origins, "https://${var.domain}") &&
      contains(one(aws_s3_bucket_cors_configuration.uploads.cors_rule).allowed_headers, "Content-Type")
    )
    error_message = "the uploads bucket is versioned and lets the site's pages PUT to it through presigned URLs"
  }

  assert {
    condition = var.environment != "prod" || try(
      aws_s3_bucket_replication_configuration.uploads[0].rule[0].status == "Enabled" &&
      aws_s3_bucket_replication_configuration.uploads[0].rule[0].destination[0].bucket == aws_s3_bucket.uploads_replica[0].arn &&
      aws_s3_bucket_replication_configuration.uploads[0].rule[0].destination[0].replication_time[0].time[0].minutes == 15 &&
      aws_s3_bucket_replication_configuration.uploads[0].rule[0].delete_marker_replication[0].status == "Enabled" &&
      aws_s3_bucket_versioning.uploads_replica[0].versioning_configuration[0].status == "Enabled" &&
      var.backup_region != var.region,
    false)
    error_message = "prod: the uploads are replicated, delete markers included, to a versioned bucket in another region within 15 minutes"
  }

  assert {
    condition = (
      contains([for x in jsondecode(aws_ecs_task_definition.service["app"].container_definitions)[0].secrets : x.name], "COMMUNITY_REDIS") &&
      contains([for x in jsondecode(aws_ecs_task_definition.service["worker"].container_definitions)[0].secrets : x.name], "COMMUNITY_REDIS") &&
      contains([for x in jsondecode(aws_ecs_task_definition.service["web"].container_definitions)[0].secrets : x.name], "COMMUNITY_REDIS") &&
      startswith(aws_secretsmanager_secret_version.redis_url.secret_string, "redis://") &&
      !aws_elasticache_replication_group.main.transit_encryption_enabled
    )
    error_message = "the API, the worker and the web tier get COMMUNITY_REDIS, a plain redis:// URL (the server's client has no TLS)"
  }

  assert {
    condition = alltrue([
      for a in concat(values(aws_cloudwatch_metric_alarm.metric), values(aws_cloudwatch_metric_alarm.target_health), [aws_cloudwatch_metric_alarm.alb_5xx_rate]) :
      contains(a.alarm_actions, aws_sns_topic.alarms.arn) && contains(a.ok_actions, aws_sns_topic.alarms.arn)
    ])
    error_message = "every alarm notifies the SNS topic when it fires and when it recovers"
  }

  assert {
    condition     = aws_lb.main.drop_invalid_header_fields && aws_lb.main.idle_timeout < 65
    error_message = "the ALB drops invalid headers and idles out before the server's keep-alive"
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.service["app"].container_definitions)[0].image == "${aws_ecr_repository.app.repository_url}:${var.image_tag}" &&
      jsondecode(aws_ecs_task_definition.service["worker"].container_definitions)[0].image == "${aws_ecr_repository.app.repository_url}:${var.image_tag}" &&
      jsondecode(aws_ecs_task_definition.service["web"].container_definitions)[0].image == "${aws_ecr_repository.web.repository_url}:${var.image_tag}"
    )
    error_message = "the API and the worker run the api image, the web tier the web image, all with image_tag"
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.service["worker"].container_definitions)[0].command[0] == "worker" &&
      jsondecode(aws_ecs_task_definition.service["worker"].container_definitions)[0].entryPoint[0] == "/usr/local/bin/community" &&
      jsondecode(aws_ecs_task_definition.service["worker"].container_definitions)[0].stopTimeout > 30 &&
      aws_ecs_service.worker.desired_count == var.worker_count && var.worker_count >= 2 &&
      length(aws_ecs_service.worker.load_balancer) == 0
    )
    error_message = "the worker service runs `community worker` in at least two tasks, outside the load balancer, with time to drain"
  }

  assert {
    condition = alltrue([
      for c in values(aws_ecs_task_definition.service) :
      jsondecode(c.container_definitions)[0].user == "10001:10001"
    ])
    error_message = "every service runs as the unprivileged user of the images"
  }

  assert {
    condition = (
      one(aws_ecs_service.web.load_balancer).container_port == 3000 &&
      aws_lb_target_group.web.health_check[0].path == "/api/health" &&
      one(aws_lb_listener.https.default_action).target_group_arn == aws_lb_target_group.web.arn &&
      one(aws_lb_listener_rule.api.action).target_group_arn == aws_lb_target_group.app.arn &&
      contains(one(one(aws_lb_listener_rule.api.condition).path_pattern).values, "/v1/*")
    )
    error_message = "the ALB sends /v1/* to the API and everything else to the web tier, each with its health check"
  }

  assert {
    condition = alltrue([
      for svc in ["app", "web"] : (
        aws_codedeploy_deployment_group.service[svc].deployment_style[0].deployment_type == "BLUE_GREEN" &&
        aws_codedeploy_deployment_group.service[svc].deployment_config_name == var.deployment_config &&
        aws_codedeploy_deployment_group.service[svc].auto_rollback_configuration[0].enabled &&
        contains(aws_codedeploy_deployment_group.service[svc].auto_rollback_configuration[0].events, "DEPLOYMENT_STOP_ON_ALARM") &&
        aws_codedeploy_deployment_group.service[svc].alarm_configuration[0].enabled &&
        contains(aws_codedeploy_deployment_group.service[svc].alarm_configuration[0].alarms, aws_cloudwatch_metric_alarm.alb_5xx_rate.alarm_name) &&
        length(aws_codedeploy_deployment_group.service[svc].alarm_configuration[0].alarms) == 3 &&
        length(aws_codedeploy_deployment_group.service[svc].load_balancer_info[0].target_group_pair_info[0].target_group) == 2 &&
        one(aws_ecs_service.app.deployment_controller).type == "CODE_DEPLOY" &&
        one(aws_ecs_service.web.deployment_controller).type == "CODE_DEPLOY"
      )
    ])
    error_message = "the API and web services deploy blue/green through CodeDeploy, rolled back on failure and on the 5xx and target health alarms"
  }

  assert {
    condition     = var.environment != "prod" || strcontains(var.deployment_config, "Canary")
    error_message = "prod: deployments shift a canary share of the traffic first"
  }

  assert {
    condition = alltrue([
      for k, a in aws_cloudwatch_metric_alarm.target_health :
      length(a.metric_query) == 3 && contains([for q in a.metric_query : q.expression if q.return_data == true], "FILL(blue, 0) + FILL(green, 0)")
    ]) && length(aws_cloudwatch_metric_alarm.target_health) == 4
    error_message = "the target health alarms of both tiers count both target groups of the blue/green pair"
  }

  assert {
    condition = var.github_repository == "" || try(
      aws_iam_role.deploy[0].name == "${var.name}-${var.environment}-deploy" &&
      one(data.aws_iam_policy_document.deploy_assume[0].statement).actions == toset(["sts:AssumeRoleWithWebIdentity"]) &&
      contains([for c in one(data.aws_iam_policy_document.deploy_assume[0].statement).condition : c.values[0] if c.variable == "token.actions.githubusercontent.com:sub"],
      "repo:${var.github_repository}:environment:${var.github_environment != "" ? var.github_environment : var.environment}")
    , false)
    error_message = "the CD workflow's role is assumed through GitHub OIDC, by jobs of the environment's GitHub environment only"
  }

  assert {
    condition     = length(local.ecs_services) == 3
    error_message = "the API, web and worker services each have their CPU and memory alarms"
  }
}
