#!/usr/bin/env bash
# Point the Colab badges, the notebooks' install cells, the README and dal_helpers.REPO_URL at another
# GitHub repository (a fork): `bash ci/set_repo_url.sh https://github.com/OWNER/NAME`. Without an
# argument it uses the URL of the `origin` remote. Only the address changes; commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
new="${1:-$(git remote get-url origin 2>/dev/null || true)}"
if [ -z "$new" ]; then
    echo "usage: bash ci/set_repo_url.sh https://github.com/OWNER/NAME (no origin remote to default to)" >&2
    exit 2
fi
PYTHON="${PYTHON:-python3}"
exec "$PYTHON" - "$new" <<'PY'
import re, sys
from pathlib import Path

new = sys.argv[1].strip()
m = re.fullmatch(r"(?:https://github\.com/|git@github\.com:)([\w.-]+)/([\w.-]+?)(?:\.git)?/?", new)
if not m:
    sys.exit(f"set_repo_url: {new!r} is not a GitHub repository URL; expected https://github.com/OWNER/NAME "
             "(Colab opens notebooks from GitHub only)")
new_path = f"{m.group(1)}/{m.group(2)}"
init = Path("dal_helpers/__init__.py")
old = re.search(r'^REPO_URL = "https://github\.com/([^"]+)"$', init.read_text(), re.M).group(1)
files = [init, Path("README.md"), *sorted(Path("notebooks").glob("*.ipynb"))]
changed = 0
for f in files:
    text = f.read_text()
    out = text.replace(f"github.com/{old}", f"github.com/{new_path}").replace(
        f"colab.research.google.com/github/{old}/", f"colab.research.google.com/github/{new_path}/")
    if out != text:
        f.write_text(out)
        changed += 1
print(f"REPO_URL: https://github.com/{old} -> https://github.com/{new_path} ({changed} files rewritten)")
PY
