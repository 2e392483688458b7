# alarms.tf - CloudWatch alarms on the services, the load balancer, the
# database, its read replica, the job queues (the server's metrics, through
# the collector of metrics.tf) and the uploads replication, all sent (alarm
# and recovery) to one SNS topic, <prefix>-alarms, with e-mail, PagerDuty and
# Slack subscriptions from variables. The alarm
# list and the first steps are in docs/operations-guide.md ("Terraform").

resource "aws_sns_topic" "alarms" {
  name = "${local.prefix}-alarms"
}

# E-mail subscriptions stay pending until the recipient confirms them.
resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

# PagerDuty: the integration URL of an "Amazon CloudWatch" service
# integration (https://events.pagerduty.com/integration/<key>/enqueue).
resource "aws_sns_topic_subscription" "pagerduty" {
  count                  = var.alarm_pagerduty_endpoint != "" ? 1 : 0
  topic_arn              = aws_sns_topic.alarms.arn
  protocol               = "https"
  endpoint               = var.alarm_pagerduty_endpoint
  endpoint_auto_confirms = true
}

# Slack: an HTTPS endpoint that confirms SNS subscriptions and posts to a
# channel (a Slack incoming webhook alone does not confirm them).
resource "aws_sns_topic_subscription" "slack" {
  count     = var.alarm_slack_endpoint != "" ? 1 : 0
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "https"
  endpoint  = var.alarm_slack_endpoint
}

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]

  # Every ECS service gets the CPU and memory alarms.
  ecs_services = {
    app    = aws_ecs_service.app.name
    web    = aws_ecs_service.web.name
    worker = aws_ecs_service.worker.name
  }

  # The alarms on one metric each, by name (the alarm is
  # <prefix>-<key>): namespace, metric, dimensions, statistic, period (s),
  # periods to breach, comparison, threshold, missing data, description.
  # Dimensions are tomap() so that every entry has the same type.
  metric_alarms = merge(
    { for k, svc in local.ecs_services : "${k}-cpu-high" => {
      namespace   = "AWS/ECS"
      metric      = "CPUUtilization"
      dimensions  = tomap({ ClusterName = aws_ecs_cluster.main.name, ServiceName = svc })
      statistic   = "Average"
      period      = 300
      periods     = 3
      comparison  = "GreaterThanThreshold"
      threshold   = var.alarm_cpu_percent
      missing     = "missing"
      description = "ECS service ${svc}: average CPU above ${var.alarm_cpu_percent}% for 15 min (autoscaling at max_count, or a busy loop)."
    } },
    { for k, svc in local.ecs_services : "${k}-memory-high" => {
      namespace   = "AWS/ECS"
      metric      = "MemoryUtilization"
      dimensions  = tomap({ ClusterName = aws_ecs_cluster.main.name, ServiceName = svc })
      statistic   = "Average"
      period      = 300
      periods     = 3
      comparison  = "GreaterThanThreshold"
      threshold   = var.alarm_memory_percent
      missing     = "missing"
      description = "ECS service ${svc}: average memory above ${var.alarm_memory_percent}% of the task's for 15 min (tasks near their limit are killed)."
    } },
    {
      "db-connections-high" = {
        namespace   = "AWS/RDS"
        metric      = "DatabaseConnections"
        dimensions  = tomap({ DBInstanceIdentifier = aws_db_instance.main.identifier })
        statistic   = "Maximum"
        period      = 300
        periods     = 3
        comparison  = "GreaterThanThreshold"
        threshold   = var.alarm_db_connections
        missing     = "missing"
        description = "More than ${var.alarm_db_connections} database connections for 15 min (tasks x pool_size approaching max_connections)."
      }
      "db-free-storage-low" = {
        namespace   = "AWS/RDS"
        metric      = "FreeStorageSpace"
        dimensions  = tomap({ DBInstanceIdentifier = aws_db_instance.main.identifier })
        statistic   = "Minimum"
        period      = 300
        periods     = 2
        comparison  = "LessThanThreshold"
        threshold   = var.alarm_db_free_storage_gib * 1073741824
        missing     = "missing"
        description = "Less than ${var.alarm_db_free_storage_gib} GiB free on the database for 10 min (storage autoscaling at db_max_allocated_storage?). A full disk makes the database read-only."
      }
    },
    # The job queues, from the server's own metrics (metrics.tf).
    { for k, v in {
      "queue-backlog" = {
        namespace   = var.metrics_namespace
        metric      = "community_job_queue_depth"
        dimensions  = tomap({ environment = var.environment, state = "queued" })
        statistic   = "Maximum"
        period      = 300
        periods     = 3
        comparison  = "GreaterThanThreshold"
        threshold   = var.alarm_queue_depth
        missing     = "missing"
        description = "More than ${var.alarm_queue_depth} jobs waiting in a queue for 15 min: workers too few, stopped or failing (docs/runbooks/CommunityJobQueueBacklog.md)."
      }
      "queue-stalled" = {
        namespace   = var.metrics_namespace
        metric      = "community_job_queue_oldest_age_seconds"
        dimensions  = tomap({ environment = var.environment })
        statistic   = "Maximum"
        period      = 300
        periods     = 2
        comparison  = "GreaterThanThreshold"
        threshold   = var.alarm_queue_age_seconds
        missing     = "missing"
        description = "The oldest waiting job has waited more than ${var.alarm_queue_age_seconds} s for 10 min: workers down (docs/runbooks/CommunityJobQueueStalled.md)."
      }
    } : k => v if var.metrics_collector },
    { for k, v in {
      "db-replica-lag" = {
        namespace   = "AWS/RDS"
        metric      = "ReplicaLag"
        dimensions  = tomap({ DBInstanceIdentifier = "${local.prefix}-replica" })
        statistic   = "Maximum"
        period      = 300
        periods     = 2
        comparison  = "GreaterThanThreshold"
        threshold   = var.alarm_replica_lag_seconds
        missing     = "breaching"
        description = "The read replica is more than ${var.alarm_replica_lag_seconds} s behind the primary for 10 min (or reports nothing: replication stopped)."
      }
    } : k => v if var.db_read_replica },
    { for k, v in {
      "uploads-replication-latency" = {
        namespace   = "AWS/S3"
        metric      = "ReplicationLatency"
        dimensions  = tomap({ SourceBucket = aws_s3_bucket.uploads.bucket, DestinationBucket = "${local.prefix}-uploads-replica-${local.account_id}", RuleId = "uploads-to-${var.backup_region}" })
        statistic   = "Maximum"
        period      = 300
        periods     = 3
        comparison  = "GreaterThanThreshold"
        threshold   = var.alarm_uploads_replication_seconds
        missing     = "notBreaching"
        description = "Uploads take more than ${var.alarm_uploads_replication_seconds} s to reach the replica bucket in ${var.backup_region} for 15 min: the uploads' RPO is at risk."
      }
    } : k => v if var.uploads_replication },
  )
}

resource "aws_cloudwatch_metric_alarm" "metric" {
  for_each            = local.metric_alarms
  alarm_name          = "${local.prefix}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.periods
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  treat_missing_data  = each.value.missing
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# These alarms were one resource each (or one per metric) before: keep their
# state.
moved {
  from = aws_cloudwatch_metric_alarm.ecs_cpu["app"]
  to   = aws_cloudwatch_metric_alarm.metric["app-cpu-high"]
}

moved {
  from = aws_cloudwatch_metric_alarm.ecs_cpu["web"]
  to   = aws_cloudwatch_metric_alarm.metric["web-cpu-high"]
}

moved {
  from = aws_cloudwatch_metric_alarm.ecs_cpu["worker"]
  to   = aws_cloudwatch_metric_alarm.metric["worker-cpu-high"]
}

moved {
  from = aws_cloudwatch_metric_alarm.ecs_memory["app"]
  to   = aws_cloudwatch_metric_alarm.metric["app-memory-high"]
}

moved {
  from = aws_cloudwatch_metric_alarm.ecs_memory["web"]
  to   = aws_cloudwatch_metric_alarm.metric["web-memory-high"]
}

moved {
  from = aws_cloudwatch_metric_alarm.ecs_memory["worker"]
  to   = aws_cloudwatch_metric_alarm.metric["worker-memory-high"]
}

moved {
  from = aws_cloudwatch_metric_alarm.alb_unhealthy_targets
  to   = aws_cloudwatch_metric_alarm.metric["alb-unhealthy-targets"]
}

moved {
  from = aws_cloudwatch_metric_alarm.alb_no_healthy_targets
  to   = aws_cloudwatch_metric_alarm.metric["alb-no-healthy-targets"]
}

moved {
  from = aws_cloudwatch_metric_alarm.db_connections
  to   = aws_cloudwatch_metric_alarm.metric["db-connections-high"]
}

moved {
  from = aws_cloudwatch_metric_alarm.db_free_storage
  to   = aws_cloudwatch_metric_alarm.metric["db-free-storage-low"]
}

# 5xx answers (the tasks' and the load balancer's own) as a percentage of
# requests, over 5 minutes; quiet periods (no requests) count as fine.
resource "aws_cloudwatch_metric_alarm" "alb_5xx_rate" {
  alarm_name          = "${local.prefix}-alb-5xx-rate"
  alarm_description   = "More than ${var.alarm_5xx_percent}% of requests answered 5xx for 10 min."
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_5xx_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "rate"
    expression  = "100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests"
    label       = "5xx %"
    return_data = true
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = { LoadBalancer = aws_lb.main.arn_suffix }
      stat        = "Sum"
      period      = 300
    }
  }

  metric_query {
    id = "target5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = aws_lb.main.arn_suffix }
      stat        = "Sum"
      period      = 300
    }
  }

  metric_query {
    id = "elb5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = { LoadBalancer = aws_lb.main.arn_suffix }
      stat        = "Sum"
      period      = 300
    }
  }
}

# Target health of the API and the web tier. Each service has two target
# groups, of which CodeDeploy keeps one in the listener (codedeploy.tf): the
# alarms add the counts of both, so they watch whichever is live, and they
# stop and roll back a blue/green deployment.
locals {
  target_health_alarms = merge([
    for svc, tier in { app = "alb", web = "alb-web" } : {
      "${tier}-unhealthy-targets" = {
        service     = svc
        metric      = "UnHealthyHostCount"
        statistic   = "Maximum"
        periods     = 5
        comparison  = "GreaterThanThreshold"
        threshold   = 0
        missing     = "notBreaching"
        description = svc == "app" ? "A target of the load balancer failed /readyz for 5 min (database unreachable, migration pending, task stuck)." : "A web task failed /api/health for 5 min (database unreachable, task stuck)."
      }
      "${tier}-no-healthy-targets" = {
        service     = svc
        metric      = "HealthyHostCount"
        statistic   = "Minimum"
        periods     = 3
        comparison  = "LessThanThreshold"
        threshold   = 1
        missing     = "breaching"
        description = svc == "app" ? "No healthy target behind the load balancer for 3 min: the site is down." : "No healthy web task behind the load balancer for 3 min: the site's pages are down."
      }
    }
  ]...)

  target_groups = {
    app = [aws_lb_target_group.app.arn_suffix, aws_lb_target_group.green["app"].arn_suffix]
    web = [aws_lb_target_group.web.arn_suffix, aws_lb_target_group.green["web"].arn_suffix]
  }
}

resource "aws_cloudwatch_metric_alarm" "target_health" {
  for_each            = local.target_health_alarms
  alarm_name          = "${local.prefix}-${each.key}"
  alarm_description   = each.value.description
  evaluation_periods  = each.value.periods
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  treat_missing_data  = each.value.missing
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "hosts"
    expression  = "FILL(blue, 0) + FILL(green, 0)"
    label       = each.value.metric
    return_data = true
  }

  metric_query {
    id = "blue"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = each.value.metric
      dimensions  = { LoadBalancer = aws_lb.main.arn_suffix, TargetGroup = local.target_groups[each.value.service][0] }
      stat        = each.value.statistic
      period      = 60
    }
  }

  metric_query {
    id = "green"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = each.value.metric
      dimensions  = { LoadBalancer = aws_lb.main.arn_suffix, TargetGroup = local.target_groups[each.value.service][1] }
      stat        = each.value.statistic
      period      = 60
    }
  }
}

moved {
  from = aws_cloudwatch_metric_alarm.metric["alb-unhealthy-targets"]
  to   = aws_cloudwatch_metric_alarm.target_health["alb-unhealthy-targets"]
}

moved {
  from = aws_cloudwatch_metric_alarm.metric["alb-no-healthy-targets"]
  to   = aws_cloudwatch_metric_alarm.target_health["alb-no-healthy-targets"]
}

moved {
  from = aws_cloudwatch_metric_alarm.metric["alb-web-unhealthy-targets"]
  to   = aws_cloudwatch_metric_alarm.target_health["alb-web-unhealthy-targets"]
}

moved {
  from = aws_cloudwatch_metric_alarm.metric["alb-web-no-healthy-targets"]
  to   = aws_cloudwatch_metric_alarm.target_health["alb-web-no-healthy-targets"]
}
