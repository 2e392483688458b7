# plan.tftest.hcl - assertions on the whole configuration for one
# environment, run offline against a mocked AWS provider. The environment's
# values come from the command line: deploy/terraform-check.sh runs
#   terraform test -var-file=envs/<env>/terraform.tfvars
# once for each of envs/*/ (meson test terraform).

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_resource "aws_sns_topic" {
    defaults = {
      arn = "arn:aws:sns:eu-central-1:123456789012:community-alarms"
    }
  }
  mock_resource "aws_db_instance" {
    defaults = {
      arn = "arn:aws:rds:eu-central-1:123456789012:db:community"
    }
  }
  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/community"
    }
  }
  mock_resource "aws_lb" {
    defaults = {
      arn = "arn:aws:elasticloadbalancing:eu-central-1:123456789012:loadbalancer/app/community/0123456789abcdef"
    }
  }
  mock_resource "aws_lb_target_group" {
    defaults = {
      arn = "arn:aws:elasticloadbalancing:eu-central-1:123456789012:targetgroup/community/0123456789abcdef"
    }
  }
  mock_data "aws_availability_zones" {
    defaults = {
      names = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
    }
  }
}

mock_provider "aws" {
  alias = "backup"

  mock_resource "aws_kms_key" {
    defaults = {
      arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    }
  }
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
    condition = (
      length(aws_cloudwatch_metric_alarm.ecs_cpu) == length(local.ecs_services) &&
      length(aws_cloudwatch_metric_alarm.ecs_memory) == length(local.ecs_services) &&
      aws_cloudwatch_metric_alarm.alb_5xx_rate.alarm_name != "" &&
      aws_cloudwatch_metric_alarm.alb_unhealthy_targets.alarm_name != "" &&
      aws_cloudwatch_metric_alarm.alb_no_healthy_targets.alarm_name != "" &&
      aws_cloudwatch_metric_alarm.db_connections.alarm_name != "" &&
      aws_cloudwatch_metric_alarm.db_free_storage.alarm_name != ""
    )
    error_message = "every environment has the CPU and memory alarms per service, the ALB 5xx and target health alarms, and the database connection and storage alarms"
  }

  assert {
    condition = alltrue([
      for a in concat(
        values(aws_cloudwatch_metric_alarm.ecs_cpu),
        values(aws_cloudwatch_metric_alarm.ecs_memory),
        [
          aws_cloudwatch_metric_alarm.alb_5xx_rate,
          aws_cloudwatch_metric_alarm.alb_unhealthy_targets,
          aws_cloudwatch_metric_alarm.alb_no_healthy_targets,
          aws_cloudwatch_metric_alarm.db_connections,
          aws_cloudwatch_metric_alarm.db_free_storage,
        ]
      ) : contains(a.alarm_actions, aws_sns_topic.alarms.arn) && contains(a.ok_actions, aws_sns_topic.alarms.arn)
    ])
    error_message = "every alarm notifies the SNS topic when it fires and when it recovers"
  }

  assert {
    condition     = aws_lb.main.drop_invalid_header_fields && aws_lb.main.idle_timeout < 65
    error_message = "the ALB drops invalid headers and idles out before the server's keep-alive"
  }
}
