"""Key Cognito identities by (issuer, sub): existing rows keep their link and get the issuer of their pool."""

from typing import Any

from django.conf import settings
from django.db import migrations, models


def _issuers() -> dict[str, str]:
    """pool id -> issuer, as configured now (``COGNITO``'s main pool and ``POOLS``)."""
    cognito = dict(getattr(settings, "COGNITO", {}) or {})
    found: dict[str, str] = {}
    for entry in [cognito, *(cognito.get("POOLS") or [])]:
        pool_id = str(entry.get("USER_POOL_ID") or "")
        if pool_id and entry.get("ISSUER"):
            found[pool_id] = str(entry["ISSUER"]).rstrip("/")
    return found


def _issuer_of(pool_id: str, configured: dict[str, str]) -> str:
    if pool_id in configured:
        return configured[pool_id]
    if not pool_id:
        main = dict(getattr(settings, "COGNITO", {}) or {})
        pool_id = str(main.get("USER_POOL_ID") or "")
        if pool_id in configured:
            return configured[pool_id]
    region = pool_id.split("_", 1)[0]
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def fill_issuer(apps: Any, schema_editor: Any) -> None:
    identity = apps.get_model("cognito_backend", "CognitoIdentity")
    configured = _issuers()
    rows = identity.objects.using(schema_editor.connection.alias).filter(issuer="")
    for pool_id in rows.values_list("pool_id", flat=True).distinct():
        rows.filter(pool_id=pool_id).update(issuer=_issuer_of(pool_id, configured))


class Migration(migrations.Migration):
    dependencies = [
        ("cognito_backend", "0002_revokedtokenfamily_userrevocation"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="cognitoidentity",
            name="issuer",
            field=models.CharField(blank=True, default="", max_length=255),
        ),
        migrations.AddField(
            model_name="cognitoidentity",
            name="synced_token_iat",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(fill_issuer, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="cognitoidentity",
            name="sub",
            field=models.CharField(db_index=True, max_length=255),
        ),
        migrations.AddConstraint(
            model_name="cognitoidentity",
            constraint=models.UniqueConstraint(fields=("issuer", "sub"), name="cognito_identity_issuer_sub"),
        ),
    ]
