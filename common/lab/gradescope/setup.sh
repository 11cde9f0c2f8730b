#!/usr/bin/env bash
# setup.sh - Gradescope's image setup for the vault's labs: a C compiler,
# make, and the programs of lab 05's LD_PRELOAD stage (ls, sort, python3).
set -euo pipefail
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  gcc make libc6-dev coreutils python3
