#!/bin/sh
# The image's entrypoint. Locust's Kubernetes operator (LocustTest) passes only Locust arguments
# (`--master ...`, `--worker --master-host ...`): they run the locustfile, the operator's ConfigMap copy at
# /home/locust when mounted (the packages stay in the image: PYTHONPATH), else the image's own. Any other command
# (docker compose's `python -m locust ...`, `python -m reference_server ...`) runs as given.
app="${WSLOAD_APP:-/app}"
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
case "$1" in
    -*)
        locustfile="$app/locustfile.py"
        [ -f /home/locust/locustfile.py ] && locustfile=/home/locust/locustfile.py
        PYTHONPATH="$app${PYTHONPATH:+:$PYTHONPATH}" exec python -m locust -f "$locustfile" "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
