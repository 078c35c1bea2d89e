"""The Cognito user-migration Lambda trigger (``handler.py``, standard library only, deployable as one file) and
a local stand-in for Lambda's Invoke API (``local_lambda.py``) so cognito-local can run it."""
