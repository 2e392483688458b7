# dev: one small instance of everything, no standby, short backups.
environment     = "dev"
region          = "eu-central-1"
certificate_arn = "arn:aws:acm:eu-central-1:123456789012:certificate/00000000-0000-0000-0000-000000000001"
domain          = "dev.community.example.org"

single_nat_gateway       = true
min_count                = 1
max_count                = 2
db_instance_class        = "db.t4g.small"
db_multi_az              = false
db_backup_retention_days = 1
db_backup_replication    = false
redis_num_nodes          = 1
deletion_protection      = false
log_retention_days       = 7

alarm_emails = ["dev-alerts@example.org"]
