#!/usr/bin/env bash
# Vendor the staff pages' front-end libraries from the npm registry into static/vendor/.
# The copied files are committed, so running Tsunagu never needs npm, node or a CDN.
# Re-run after changing a version below:  ./static/vendor.sh
set -euo pipefail

# htmx stays on 2.x: 4.x changes attribute inheritance and history handling the pages rely on.
HTMX_VERSION="2.0.11"
PICO_VERSION="2.1.1"
# Chart.js draws the insights dashboard (canvas, UMD build: no bundler needed).
CHARTJS_VERSION="4.6.1"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$here/vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

fetch() {  # fetch <package> <version> → unpacked into $tmp/<package>/package
    local name="$1" version="$2" dir="$tmp/$1"
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$name@$version" >/dev/null && tar xzf ./*.tgz)
    echo "$dir/package"
}

mkdir -p "$dest/htmx" "$dest/pico" "$dest/chartjs"

htmx="$(fetch htmx.org "$HTMX_VERSION")"
cp "$htmx/dist/htmx.min.js" "$dest/htmx/htmx.min.js"
cp "$htmx/LICENSE" "$dest/htmx/LICENSE"

pico="$(fetch @picocss/pico "$PICO_VERSION")"
cp "$pico/css/pico.min.css" "$dest/pico/pico.min.css"
cp "$pico/LICENSE.md" "$dest/pico/LICENSE.md"

chartjs="$(fetch chart.js "$CHARTJS_VERSION")"
cp "$chartjs/dist/chart.umd.min.js" "$dest/chartjs/chart.umd.min.js"
cp "$chartjs/LICENSE.md" "$dest/chartjs/LICENSE.md"

# The npm builds end with a sourceMappingURL to a .map we do not ship; collectstatic's manifest
# storage refuses a reference to a missing file, so the comment goes.
find "$dest" -name '*.js' -o -name '*.css' | xargs sed -i '/^\/[/*]# sourceMappingURL=/d'

cat > "$dest/VERSIONS" <<VERSIONS
htmx.org $HTMX_VERSION
@picocss/pico $PICO_VERSION
chart.js $CHARTJS_VERSION
VERSIONS
echo "vendored htmx.org@$HTMX_VERSION, @picocss/pico@$PICO_VERSION and chart.js@$CHARTJS_VERSION into $dest"
