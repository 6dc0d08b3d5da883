#!/usr/bin/env bash
# The demonstration behind `make run` (filled in as the engine lands).
set -euo pipefail
CAIRN="$1"
"$CAIRN" --help
