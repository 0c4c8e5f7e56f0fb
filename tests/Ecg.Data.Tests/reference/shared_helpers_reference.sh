#!/bin/sh
# Regenerates the reference values of SplitMix64Tests.fs and PythonFormatTests.fs (gcc and python3 needed;
# neither is needed to build or test the project).
set -e
cd "$(dirname "$0")"
gcc -O2 -o /tmp/splitmix64-reference splitmix64.c && /tmp/splitmix64-reference
python3 python_format.py   # writes python_format.tsv
