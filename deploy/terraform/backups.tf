# backups.tf - the database's automated backups (snapshots and transaction
# logs, so point-in-time recovery) replicated to a second region,
# var.backup_region, encrypted there with a key of that region. Restore
# from the replica with `aws rds restore-db-instance-to-point-in-time
# --source-db-instance-automated-backups-arn ...` in that region.

provider "aws" {
  alias  = "backup"
  region = var.backup_region

  default_tags {
    tags = local.tags
  }
}

# The key of the second region: replicated database backups and the uploads
# replica bucket (s3.tf).
resource "aws_kms_key" "backup" {
  count                   = var.db_backup_replication || var.uploads_replication ? 1 : 0
  provider                = aws.backup
  description             = "${local.prefix}: replicated RDS automated backups and uploads"
  enable_key_rotation     = true
  deletion_window_in_days = 30
}

resource "aws_db_instance_automated_backups_replication" "main" {
  count                  = var.db_backup_replication ? 1 : 0
  provider               = aws.backup
  source_db_instance_arn = aws_db_instance.main.arn
  retention_period       = var.db_backup_retention_days
  kms_key_id             = aws_kms_key.backup[0].arn
}
