# The Tiezheng service image (docker-compose.yml): the locked runtime dependencies, then the project itself.
FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY ledger ledger
COPY evidence_api evidence_api
COPY ingest ingest
COPY verifier verifier
RUN pip install --no-cache-dir --no-deps . && useradd --system --home /var/lib/tiezheng tiezheng \
    && mkdir -p /var/lib/tiezheng && chown tiezheng /var/lib/tiezheng
USER tiezheng
EXPOSE 8080
CMD ["tiezheng", "serve", "--host", "0.0.0.0", "--port", "8080"]
