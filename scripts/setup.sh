#!/usr/bin/env bash
# Builds .venv/ from nothing on a fresh machine: system libraries, the pinned Python packages of
# requirements.lock (with --no-deps, so the resolver can never add torchvision or a CUDA torch),
# and docflow itself. Safe to run again: it only reinstalls when the lock or the project changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# python-magic (file type detection in unstructured) needs libmagic.
if ! ldconfig -p 2>/dev/null | grep -q 'libmagic\.so\.1'; then
    echo "setup: installing libmagic1" >&2
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq libmagic1 >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq libmagic1 >/dev/null; fi
fi

# OCR (tesseract + its English data; poppler-utils renders scanned PDF pages) and pandoc
# (.odt .rtf .epub .org .rst): about 200 MB and 40 s on a fresh machine here. More OCR
# languages: apt-get install tesseract-ocr-deu ... and set DOCFLOW_OCR_LANGUAGES=eng+deu.
formats="tesseract-ocr tesseract-ocr-eng poppler-utils pandoc"
# LibreOffice converts .doc/.ppt; 275 MB and about a minute more, so it is opt-in. Without it a
# .doc/.ppt fails with a message naming this switch.
if [ "${DOCFLOW_WITH_LIBREOFFICE:-0}" = 1 ]; then
    formats="$formats libreoffice-writer-nogui libreoffice-impress-nogui"
fi
missing=$(for package in $formats; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || echo "$package"
done)
if [ -n "$missing" ]; then
    echo "setup: installing" $missing >&2
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null; fi
fi

# The UI tests drive Debian's chromium (no browser download); only the test command asks for it.
if [ "${DOCFLOW_WITH_BROWSER:-0}" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
    echo "setup: installing chromium for the UI tests" >&2
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi \
        || echo "setup: chromium could not be installed; the UI tests will be skipped" >&2
fi

if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv" >&2
    python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
fi

stamp=.venv/.docflow-installed
want=$(cat requirements.lock pyproject.toml shims/en_core_web_sm/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing pinned dependencies (first time: a few minutes)" >&2
    # pip freeze leaves out the build tools; the local shim package needs these to build.
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps \
        "pip==26.3" "setuptools==84.2.1" "wheel==0.48.0"
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -r requirements.lock
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation \
        -e . ./shims/en_core_web_sm
    echo "$want" > "$stamp"
fi

# A new table embeds with onnx-int8: its ONNX files are built here from the bundled model (about
# 30 s, once per model and onnxruntime version; a no-op when they exist) instead of by a first run.
.venv/bin/python -c 'from docflow.adapters.embedders.onnx import prebuild_default; prebuild_default()'

# Every new DOCFLOW_HOME's Prefect server starts from a database migrated here once per Prefect
# version (about 12 s of migrations a first `docflow ingest` would otherwise wait for; a no-op
# when it exists).
.venv/bin/python -m docflow.server >/dev/null
