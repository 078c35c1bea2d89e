"""``/api/auth/`` (included by ``config/urls.py``): every Cognito user flow as a REST endpoint."""

from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "accounts"

urlpatterns: list[URLPattern | URLResolver] = [
    path("sign-up/", views.SignUpView.as_view(), name="sign-up"),
    path("sign-up/confirm/", views.ConfirmSignUpView.as_view(), name="sign-up-confirm"),
    path("sign-up/resend/", views.ResendCodeView.as_view(), name="sign-up-resend"),
    path("sign-in/", views.SignInView.as_view(), name="sign-in"),
    path("sign-in/challenge/", views.ChallengeView.as_view(), name="sign-in-challenge"),
    path("sign-in/mfa-setup/", views.MfaSetupView.as_view(), name="sign-in-mfa-setup"),
    path("sign-in/mfa-setup/verify/", views.MfaSetupVerifyView.as_view(), name="sign-in-mfa-setup-verify"),
    path("token/refresh/", views.RefreshView.as_view(), name="token-refresh"),
    path("password/forgot/", views.ForgotPasswordView.as_view(), name="password-forgot"),
    path("password/reset/", views.ConfirmForgotPasswordView.as_view(), name="password-reset"),
    path("password/change/", views.ChangePasswordView.as_view(), name="password-change"),
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("profile/attributes/delete/", views.DeleteAttributesView.as_view(), name="profile-attributes-delete"),
    path("profile/verify/", views.SendAttributeCodeView.as_view(), name="profile-verify"),
    path("profile/verify/confirm/", views.VerifyAttributeView.as_view(), name="profile-verify-confirm"),
    path("account/", views.AccountView.as_view(), name="account"),
    path("mfa/totp/", views.TotpView.as_view(), name="mfa-totp"),
    path("mfa/totp/verify/", views.TotpVerifyView.as_view(), name="mfa-totp-verify"),
    path("mfa/preference/", views.MfaPreferenceView.as_view(), name="mfa-preference"),
    path("sign-out/", views.SignOutView.as_view(), name="sign-out"),
    path("sign-out/global/", views.GlobalSignOutView.as_view(), name="sign-out-global"),
    path("credentials/", views.CredentialsView.as_view(), name="credentials"),
]
