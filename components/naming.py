"""Names every site and the pieces between them agree on, derived from the stack's settings."""

from components.settings import Settings


def log_group_name(settings: Settings, purpose: str) -> str:
    """One scheme for the stack's own log groups (RDS and WAF names are fixed by AWS)."""
    return f"/fintech/{settings.env_suffix}/{purpose}"


def kms_alias(alias_prefix: str, purpose: str) -> str:
    """A key's alias: ``alias/<stack's name prefix>/<purpose>`` (the same in every region)."""
    return f"alias/{alias_prefix}/{purpose}"


def app_secret_prefix(settings: Settings) -> str:
    """The app may read exactly the secrets under this prefix (see components/site/security.py)."""
    return f"{settings.name_prefix}/app/"


def audit_trail_name(settings: Settings) -> str:
    """The stack's CloudTrail trail (components/between/audit_trail.py): fixed, so that the home site's
    audit key and archive name its ARN before the trail exists."""
    return f"{settings.name_prefix}-audit-trail"
