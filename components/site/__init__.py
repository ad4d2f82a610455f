"""What one region is made of: keys, network, security groups, database member, archives, load
balancer, app tier and monitoring. ``site.Site`` builds them, once per region."""
