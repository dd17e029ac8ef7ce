#!/usr/bin/env bash
# Install the Debian packages the tests and the evidence packs need, once (a second run only checks):
#   ffmpeg              video keyframes (ingest/media)
#   chromium            headless browser that runs the packs' verify.html in tests (driven by Playwright)
#   fonts-noto-cjk      Chinese glyphs for report.pdf (WeasyPrint) and the browser
#   poppler-utils       pdftoppm/pdftotext, to look at rendered PDFs in tests
#   libpango-1.0-0 libpangoft2-1.0-0  WeasyPrint's text layout
# Needs root (or sudo) the first time; says what to run otherwise.
set -euo pipefail
packages=(ffmpeg chromium fonts-noto-cjk poppler-utils libpango-1.0-0 libpangoft2-1.0-0)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-system: Debian packages present (${packages[*]})"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo > /dev/null; then sudo="sudo"; else
    echo "install-system: missing ${missing[*]}; run as root: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi
echo "install-system: installing ${missing[*]} (apt-get, about a minute)"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
echo "install-system: installed ${missing[*]}"
