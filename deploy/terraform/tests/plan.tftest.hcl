# plan.tftest.hcl - plan-level assertions on the whole configuration, run
# offline by `terraform test` against a mocked AWS provider (meson test
# terraform, deploy/terraform-check.sh).

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
  mock_data "aws_availability_zones" {
    defaults = {
      names = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
    }
  }
}

variables {
  image_tag       = "0.1.0"
  certificate_arn = "arn:aws:acm:eu-central-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
  domain          = "community.example.org"
  db_password     = "testpassword0123456789"
  metrics_token   = "testmetricstoken0123456789"
}

run "defaults" {
  command = plan

  assert {
    condition     = aws_db_instance.main.multi_az && aws_db_instance.main.backup_retention_period >= 7
    error_message = "the default database is Multi-AZ with at least 7 days of backups"
  }

  assert {
    condition     = aws_db_instance.main.password == null
    error_message = "the database password is write-only (password_wo), never in the state"
  }

  assert {
    condition     = aws_lb.main.drop_invalid_header_fields && aws_lb.main.idle_timeout < 65
    error_message = "the ALB drops invalid headers and idles out before the server's keep-alive"
  }
}
