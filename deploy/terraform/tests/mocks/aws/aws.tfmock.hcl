# Values of the mocked AWS provider (tests/*.tftest.hcl): the ARNs and
# data that the provider checks or the assertions compare.
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
mock_resource "aws_lb_listener" {
  defaults = {
    arn = "arn:aws:elasticloadbalancing:eu-central-1:123456789012:listener/app/community/0123456789abcdef/0123456789abcdef"
  }
}
mock_data "aws_availability_zones" {
  defaults = {
    names = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
  }
}
