from django.urls import URLPattern, URLResolver, path

from .hosted import CallbackPage, HostedSignInPage
from .pages import SignInPage, SignOutPage
from .pages_account import DeleteAccountPage
from .pages_password import ChangePasswordPage, ForgotPasswordPage, ResetPasswordPage
from .pages_profile import ProfilePage, TotpPage
from .pages_signout import SignOutEverywherePage
from .pages_signup import ConfirmSignUpPage, SignUpPage

app_name = "accounts-pages"

urlpatterns: list[URLPattern | URLResolver] = [
    path("sign-in/", SignInPage.as_view(), name="sign-in"),
    path("sign-out/", SignOutPage.as_view(), name="sign-out"),
    path("sign-out/everywhere/", SignOutEverywherePage.as_view(), name="sign-out-everywhere"),
    path("sign-up/", SignUpPage.as_view(), name="sign-up"),
    path("sign-up/confirm/", ConfirmSignUpPage.as_view(), name="sign-up-confirm"),
    path("password/forgot/", ForgotPasswordPage.as_view(), name="password-forgot"),
    path("password/reset/", ResetPasswordPage.as_view(), name="password-reset"),
    path("password/change/", ChangePasswordPage.as_view(), name="password-change"),
    path("profile/", ProfilePage.as_view(), name="profile"),
    path("mfa/totp/", TotpPage.as_view(), name="mfa-totp"),
    path("account/delete/", DeleteAccountPage.as_view(), name="account-delete"),
    path("hosted/", HostedSignInPage.as_view(), name="hosted"),
    path("callback/", CallbackPage.as_view(), name="callback"),
]
