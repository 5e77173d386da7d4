FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=captpathfinder.settings.production

WORKDIR /app
# REQUIREMENTS=requirements-s3.txt adds django-storages for reports in an S3-compatible bucket.
ARG REQUIREMENTS=requirements.txt
COPY requirements*.txt ./
RUN pip install --no-cache-dir -r ${REQUIREMENTS}
COPY . .
# collectstatic needs settings that import: throwaway values, used only during the build.
RUN SECRET_KEY=build-only-$(python -c "import secrets; print(secrets.token_urlsafe(48))") \
    ALLOWED_HOSTS=build WEBHOOK_SIGNING_SECRET=whsec_YnVpbGQtb25seQ== \
    python manage.py collectstatic --noinput

RUN useradd --system --uid 1000 app && mkdir -p /app/var/media /app/var/prometheus && chown -R app /app/var
USER app
EXPOSE 8000
# granian: HTTP (keep-alive included) handled in Rust, Django on blocking threads of its worker
# processes: a process per core, two threads each (while one waits for its commit to reach disk,
# the other runs; each keeps its own database connection). One process is bound by its GIL; the
# measurements behind the choice are in docs/performance.md ("The knobs, and what they trade"). A
# process that dies takes only its own requests and is replaced in about a second (make faults).
# Set GRANIAN_WORKERS to the container's cores. Override with GRANIAN_* variables.
# No access log by default: a line per webhook cost 13 % of the web CPU, and accepted events are
# stored, rejections logged with their request id and every request counted in /metrics
# (docs/operations.md); GRANIAN_LOG_ACCESS_ENABLED=true turns it on.
ENV GRANIAN_INTERFACE=wsgi GRANIAN_HOST=0.0.0.0 GRANIAN_PORT=8000 GRANIAN_WORKERS=2 \
    GRANIAN_BLOCKING_THREADS=2 GRANIAN_RESPAWN_FAILED_WORKERS=true GRANIAN_LOG_ACCESS_ENABLED=false
# The web answers on its port (a TCP check: an HTTP one would have to pass ALLOWED_HOSTS and the
# HTTPS redirect). The worker and beat containers override or disable it (docker-compose.yml).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=5 \
    CMD ["python", "-c", "import socket; socket.create_connection(('127.0.0.1', 8000), 3).close()"]
CMD ["granian", "captpathfinder.wsgi:application"]
