#!/usr/bin/env bash
# Installs HAProxy 3.0 (Debian 13's package) beside the system's HAProxy, for testing proxymgr
# against both: the .deb of haproxy and of the libraries it needs are extracted (never installed)
# into a private prefix and run through that prefix's own dynamic loader by a wrapper script.
#   bash scripts/haproxy-3.0.sh            prints the wrapper's path (installs first if missing)
#   PROXYMGR_TEST_HAPROXY=$(bash scripts/haproxy-3.0.sh) npx jest test/integration/x.test.ts
# Safe to run again: nothing is downloaded when the wrapper is there and answers 3.0.
# The prefix is .tmp/haproxy-3.0 (HAPROXY30_PREFIX overrides it). The apt source is the machine's
# own Debian source with the suite changed to trixie, in a private apt configuration: the
# machine's sources, lists and package state are not touched, and root is not needed.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${HAPROXY30_PREFIX:-$PWD/.tmp/haproxy-3.0}"
root="$prefix/root"
wrapper="$prefix/haproxy"
suite=trixie
want=3.0

# The output is read whole first: `grep -q` closing the pipe early would fail it under pipefail.
is_wanted() {
  local out
  [ -x "$wrapper" ] && out=$("$wrapper" -v 2>/dev/null) && [[ "$out" == "HAProxy version $want."* ]]
}

if is_wanted; then
  echo "$wrapper"
  exit 0
fi

apt="$prefix/apt"
mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
: > "$apt/sources.list"
: > "$apt/status"   # an empty package state: apt resolves as for a bare machine

# The machine's main Debian source (deb822 or one-line format), suite replaced by $suite.
src=
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  src=$(awk 'BEGIN{RS="";ORS="\n\n"} /(^|\n)Types:[^\n]*deb/ && /(^|\n)Suites:[^\n]*(^|[ \t])[a-z]+([ \t]|\n|$)/ && !/security/' "$f" |
    awk 'BEGIN{RS="";ORS="\n\n"} NR==1')
  [ -n "$src" ] && break
done
if [ -n "$src" ]; then
  printf '%s\n' "$src" | sed -E "s/^(Suites:).*/\1 $suite/" > "$apt/sources.list.d/$suite.sources"
else
  line=$(grep -hE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | grep -v security | head -n1 || true)
  [ -n "$line" ] || { echo "haproxy-3.0: no Debian apt source found on this machine" >&2; exit 1; }
  # deb [opts] URI SUITE COMPONENTS: replace the field after the URI.
  printf '%s\n' "$line" | awk -v s="$suite" '{i=2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } $(i+1)=s; print}' > "$apt/sources.list"
fi

aptopts=(
  -o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/sources.list.d"
  -o "Dir::State::Lists=$apt/lists" -o "Dir::State::status=$apt/status" -o "Dir::Cache=$apt/cache"
  -o "Debug::NoLocking=1" -o "APT::Sandbox::User=$(id -un)" -o "Acquire::Languages=none"
)
echo "haproxy-3.0: reading Debian $suite's package lists" >&2
apt-get "${aptopts[@]}" -qq update >&2

# The closure of haproxy's Depends, following only libraries (and libc's own needs): the
# maintainer-script tools it also depends on (adduser, init helpers) are not needed to run it.
declare -A seen=()
queue=(haproxy)
pkgs=()
while ((${#queue[@]})); do
  p=${queue[0]}; queue=("${queue[@]:1}")
  [ -n "${seen[$p]:-}" ] && continue
  seen[$p]=1
  pkgs+=("$p")
  while read -r dep; do
    case "$dep" in lib*|zlib1g|gcc-*-base) queue+=("$dep") ;; esac
  done < <(apt-cache "${aptopts[@]}" depends --no-recommends --no-suggests --no-conflicts --no-breaks \
             --no-replaces --no-enhances "$p" | sed -n 's/^ *|\{0,1\}\(Pre\)\{0,1\}Depends: \([^ <>]*\)$/\2/p')
done
echo "haproxy-3.0: downloading ${pkgs[*]}" >&2
(cd "$apt/debs" && apt-get "${aptopts[@]}" -qq download "${pkgs[@]}" >&2)

rm -rf "$root"
mkdir -p "$root"
for deb in "$apt/debs"/*.deb; do dpkg-deb -x "$deb" "$root"; done
# Debian 13 is merged-/usr: the loader is at usr/lib64, and lib64 may be missing from the debs.
loader=
for l in "$root/usr/lib64/ld-linux-x86-64.so.2" "$root/lib64/ld-linux-x86-64.so.2" "$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"; do
  [ -e "$l" ] && { loader=$l; break; }
done
[ -n "$loader" ] || { echo "haproxy-3.0: no dynamic loader in the extracted libc6" >&2; exit 1; }

cat > "$wrapper" <<WRAP
#!/bin/sh
# HAProxy $want from Debian $suite, run with its own libraries (written by scripts/haproxy-3.0.sh).
exec "$loader" --library-path "$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu" "$root/usr/sbin/haproxy" "\$@"
WRAP
chmod +x "$wrapper"

if ! is_wanted; then
  echo "haproxy-3.0: $wrapper does not answer HAProxy $want:" >&2
  "$wrapper" -v >&2 || true
  exit 1
fi
rm -rf "$apt"   # the lists and .debs (30 MB): the extracted root is all that runs
echo "$wrapper"
