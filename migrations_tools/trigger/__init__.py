"""The Cognito user-migration Lambda trigger (``handler.py``, standard library only, deployable as one file).
Locally the Lambda runtime of ``localaws`` (``localaws/lambda_runtime.py``) runs it for cognito-local."""
