#!/bin/sh
# Every container starts with an empty metrics directory of its own (values of a previous run of
# this container are gone; other containers' directories are left alone).
set -e
if [ -n "$PROMETHEUS_MULTIPROC_DIR" ]; then
    rm -rf "$PROMETHEUS_MULTIPROC_DIR"
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi
exec "$@"
