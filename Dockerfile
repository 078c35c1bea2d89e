# The site's image: gunicorn serves config.wsgi (deploy/gunicorn.conf.py); the same image runs the Celery worker
# and beat with another command (see Procfile). Settings come from the environment (README.md, docs/operations.md).
#   docker build -t cognito-django .
#   docker run --env-file prod.env -p 8000:8000 cognito-django
#   docker run --env-file prod.env cognito-django celery -A config worker --loglevel INFO
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app

COPY requirements/base.txt requirements/base.txt
RUN pip install -r requirements/base.txt

COPY . .
# Hashed, compressed static files, served by WhiteNoise. Only settings are imported here: no secret, no database,
# no broker is needed (a Redis URL keeps the filesystem broker from creating its folders in the image).
RUN DJANGO_READ_DOTENV=false DJANGO_DEBUG=false CELERY_BROKER_URL=redis://unused:6379/0 \
    python manage.py collectstatic --noinput --verbosity 0
# The one folder the site writes to when no broker is configured (kombu's filesystem transport, settings.py).
RUN mkdir -p .celery && chown app:app .celery

ENV DJANGO_DEBUG=false \
    DJANGO_LOG_FORMAT=json \
    DJANGO_READ_DOTENV=false \
    PORT=8000
USER app:app
EXPOSE 8000
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "config.wsgi"]
