"""What stands between the sites: the app's credential and its rotation, archive replication, the
origin's DNS failover, the edge (CloudFront and WAF) and backups."""
