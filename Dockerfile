# The tool's image: web, workers and the scheduler all run from it with different commands.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TOOL_ENV=production \
    FLASK_APP=wsgi \
    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Compiled catalogs (.mo) are build output, not in the repository.
RUN pybabel -q compile -d translations
RUN useradd --create-home --uid 10001 tool \
    && mkdir -p /tmp/metrics \
    && chown tool /tmp/metrics
USER 10001

EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
