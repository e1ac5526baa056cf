# The agent-anatomy command with the simulator, for `docker compose --profile demo up`.
FROM python:3.12-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir '.[sim]'
ENTRYPOINT ["agent-anatomy"]
CMD ["demo", "--export", "otlp", "--no-color"]
