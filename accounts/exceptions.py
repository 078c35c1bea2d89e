"""The accounts app's own errors, in ``cognito_backend``'s hierarchy so the one DRF exception handler renders them."""

from __future__ import annotations

from cognito_backend.exceptions import IdpError


class ReauthenticationRequired(IdpError):
    """A sensitive change needs the current password, or a recent sign-in."""

    code = "reauthentication_required"
    default_detail = "Confirm it is you: send current_password, or sign in again and retry."
    status_code = 403
