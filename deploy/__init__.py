"""Deployment outside one machine: Kubernetes manifests (`python -m deploy kubernetes`) and a Grafana dashboard."""
