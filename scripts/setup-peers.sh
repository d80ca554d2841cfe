#!/usr/bin/env bash
# Installs the peer tools the benchmarks compare against (Python trafilatura, htmldate) into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet trafilatura==2.3.1 lxml_html_clean htmldate
