"""Reusable Django app: trust Amazon Cognito tokens and talk to the Cognito API.

Add ``cognito_backend`` to ``INSTALLED_APPS`` and configure ``settings.COGNITO``; nothing else of this project is
needed. Distributed as ``django-cognito-backend`` (see README.md beside this file).
"""

__version__ = "0.2.0"
