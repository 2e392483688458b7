# codedeploy.tf - blue/green deployments of the API and web services by
# CodeDeploy, with automatic rollback on alarms. Each of the two services has
# a second ("green") target group; a deployment starts the new task set in
# the idle group, moves the HTTPS listener's traffic to it (all at once, or a
# canary share first: var.deployment_config), keeps the old task set for
# var.blue_termination_minutes, and rolls back when the deployment fails or
# one of its alarms fires: the load balancer's 5xx rate and the service's
# target health (both target groups). The worker has no load balancer: ECS
# rolls it with the deployment circuit breaker (ecs.tf).
#
# The CD workflow (.github/workflows/cd.yml) registers a task definition
# revision with the new image digest and hands it to CodeDeploy with
# deploy/codedeploy/appspec-<service>.yml; Terraform leaves the services'
# task definition and target group to CodeDeploy after creation.

resource "aws_lb_target_group" "green" {
  for_each             = { app = aws_lb_target_group.app, web = aws_lb_target_group.web }
  name                 = substr("${local.prefix}-${each.key}-g", 0, 32)
  port                 = each.value.port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 30

  health_check {
    path                = each.value.health_check[0].path
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_codedeploy_app" "main" {
  compute_platform = "ECS"
  name             = local.prefix
}

data "aws_iam_policy_document" "codedeploy_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["codedeploy.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "codedeploy" {
  name               = "${local.prefix}-codedeploy"
  description        = "CodeDeploy blue/green deployments of ${local.prefix}"
  assume_role_policy = data.aws_iam_policy_document.codedeploy_assume.json
}

resource "aws_iam_role_policy_attachment" "codedeploy" {
  role       = aws_iam_role.codedeploy.name
  policy_arn = "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS"
}

locals {
  # Per service: its ECS service, the two target groups, and the alarms that
  # stop and roll back its deployment.
  blue_green = {
    app = {
      service = aws_ecs_service.app.name
      groups  = [aws_lb_target_group.app.name, aws_lb_target_group.green["app"].name]
      alarms = [
        aws_cloudwatch_metric_alarm.alb_5xx_rate.alarm_name,
        aws_cloudwatch_metric_alarm.target_health["alb-unhealthy-targets"].alarm_name,
        aws_cloudwatch_metric_alarm.target_health["alb-no-healthy-targets"].alarm_name,
      ]
    }
    web = {
      service = aws_ecs_service.web.name
      groups  = [aws_lb_target_group.web.name, aws_lb_target_group.green["web"].name]
      alarms = [
        aws_cloudwatch_metric_alarm.alb_5xx_rate.alarm_name,
        aws_cloudwatch_metric_alarm.target_health["alb-web-unhealthy-targets"].alarm_name,
        aws_cloudwatch_metric_alarm.target_health["alb-web-no-healthy-targets"].alarm_name,
      ]
    }
  }
}

resource "aws_codedeploy_deployment_group" "service" {
  for_each               = local.blue_green
  app_name               = aws_codedeploy_app.main.name
  deployment_group_name  = "${local.prefix}-${each.key}"
  service_role_arn       = aws_iam_role.codedeploy.arn
  deployment_config_name = var.deployment_config

  auto_rollback_configuration {
    enabled = true
    events  = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
  }

  alarm_configuration {
    enabled = true
    alarms  = each.value.alarms
  }

  blue_green_deployment_config {
    deployment_ready_option {
      action_on_timeout = "CONTINUE_DEPLOYMENT"
    }

    terminate_blue_instances_on_deployment_success {
      action                           = "TERMINATE"
      termination_wait_time_in_minutes = var.blue_termination_minutes
    }
  }

  deployment_style {
    deployment_option = "WITH_TRAFFIC_CONTROL"
    deployment_type   = "BLUE_GREEN"
  }

  ecs_service {
    cluster_name = aws_ecs_cluster.main.name
    service_name = each.value.service
  }

  load_balancer_info {
    target_group_pair_info {
      prod_traffic_route {
        listener_arns = [aws_lb_listener.https.arn]
      }

      target_group {
        name = each.value.groups[0]
      }

      target_group {
        name = each.value.groups[1]
      }
    }
  }
}
