# prod: Multi-AZ database with 14 days of point-in-time recovery, backups and
# uploads replicated to a second region, a read replica, alarms to e-mail and
# PagerDuty.
environment     = "prod"
region          = "eu-central-1"
certificate_arn = "arn:aws:acm:eu-central-1:123456789012:certificate/00000000-0000-0000-0000-000000000003"
domain          = "community.example.org"

min_count                = 2
max_count                = 10
db_multi_az              = true
db_backup_retention_days = 14
db_backup_replication    = true
backup_region            = "eu-west-1"
db_read_replica          = true
uploads_replication      = true
redis_num_nodes          = 2
deletion_protection      = true

alarm_emails = ["ops@example.org"]
# alarm_pagerduty_endpoint = "https://events.pagerduty.com/integration/<key>/enqueue"
# alarm_slack_endpoint     = "https://<relay>/sns"
