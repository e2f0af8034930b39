# One image for the Locust master, its workers and the reference server (docker-compose.locust.yml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir --disable-pip-version-check -r requirements.txt
COPY locustfile.py option_table.py ./
COPY users users
COPY scenarios scenarios
COPY analysis analysis
COPY reference_server reference_server
RUN mkdir -p results
EXPOSE 8089 5557 8079 8080
CMD ["python", "-m", "locust", "-f", "locustfile.py", "--help"]
