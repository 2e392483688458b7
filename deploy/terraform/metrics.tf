# metrics.tf - the server's own metrics in CloudWatch, for the alarms on the
# job queues (alarms.tf). community-server exports Prometheus metrics on
# /metrics; an AWS Distro for OpenTelemetry collector runs beside it in every
# API task (container `metrics`, not essential: the API keeps serving when it
# stops), scrapes 127.0.0.1:8080/metrics once a minute with the metrics token,
# and writes the queue metrics as CloudWatch embedded metric format into the
# log group /ecs/<prefix>/metrics, which CloudWatch turns into metrics of the
# namespace var.metrics_namespace with the dimension `environment`:
#   community_job_queue_depth           state = queued, one value per queue
#   community_job_queue_oldest_age_seconds  one value per queue
#   community_mail_outbox_depth         one value per mail kind and status
# Every task reports the same shared database, so the alarms use Maximum.

resource "aws_cloudwatch_log_group" "metrics" {
  count             = var.metrics_collector ? 1 : 0
  name              = "/ecs/${local.prefix}/metrics"
  retention_in_days = var.log_retention_days
}

locals {
  collector_config = yamlencode({
    receivers = {
      prometheus = {
        config = {
          scrape_configs = [{
            job_name        = "community"
            scrape_interval = "60s"
            metrics_path    = "/metrics"
            authorization   = { credentials = "$${env:COMMUNITY_METRICS_TOKEN}" }
            static_configs = [{
              targets = ["127.0.0.1:8080"]
              labels  = { environment = var.environment }
            }]
          }]
        }
      }
    }
    exporters = {
      awsemf = {
        namespace               = var.metrics_namespace
        log_group_name          = "/ecs/${local.prefix}/metrics"
        log_stream_name         = "{TaskId}"
        region                  = var.region
        dimension_rollup_option = "NoDimensionRollup"
        metric_declarations = [
          {
            dimensions            = [["environment", "state"]]
            metric_name_selectors = ["^community_job_queue_depth$"]
            label_matchers        = [{ label_names = ["state"], regex = "^queued$" }]
          },
          {
            dimensions            = [["environment"]]
            metric_name_selectors = ["^community_job_queue_oldest_age_seconds$", "^community_mail_outbox_depth$"]
          },
        ]
      }
    }
    service = {
      pipelines = {
        metrics = { receivers = ["prometheus"], exporters = ["awsemf"] }
      }
    }
  })

  collector_container = {
    name                   = "metrics"
    image                  = var.metrics_collector_image
    essential              = false
    user                   = "10001:10001"
    readonlyRootFilesystem = true
    environment            = [{ name = "AOT_CONFIG_CONTENT", value = local.collector_config }]
    secrets                = [local.app_secrets[1]]
    dependsOn              = [{ containerName = "app", condition = "START" }]
    logConfiguration = {
      logDriver = "awslogs"
      options   = merge(local.log_options, { "awslogs-stream-prefix" = "metrics" })
    }
  }
}
