"""What the operator does to a running installation: key rotation, backups, shop suspension,
personal data requests and retention. Used by the command line and the scheduler."""
