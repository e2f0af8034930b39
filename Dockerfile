# One image for the Locust master, its workers and the reference server (docker-compose.locust.yml), and the
# image the Kubernetes manifests name (python -m deploy kubernetes --image; docs/kubernetes.md): it holds the
# locustfile and every project package, so no ConfigMap has to carry them.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir --disable-pip-version-check -r requirements.txt
COPY locustfile.py option_table.py run_files.py ./
COPY users users
COPY scenarios scenarios
COPY analysis analysis
COPY reference_server reference_server
COPY deploy/entrypoint.sh /usr/local/bin/wsload-entrypoint
RUN mkdir -p results
EXPOSE 8089 5557 8079 8080 9646
ENTRYPOINT ["wsload-entrypoint"]
CMD ["python", "-m", "locust", "-f", "locustfile.py", "--help"]
