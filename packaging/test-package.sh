#!/usr/bin/env bash
# Builds the Debian package with cpack, unpacks it into a fresh root with
# dpkg -x (nothing is installed on this machine), checks what it holds, and
# runs its gasched-node until it prints its listening line.
# Usage: test-package.sh BUILD_DIR WORK_DIR
set -euo pipefail
build=$1
work=$2
rm -rf "$work"
mkdir -p "$work"

fail() {
  echo "test-package: $*" >&2
  exit 1
}

if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1; then
  cat "$work/cpack.log"
  fail "cpack failed"
fi
debs=("$work"/out/gasched_*.deb)
[ -f "${debs[0]}" ] || fail "no package in $work/out"
deb=${debs[0]}
echo "package: $(basename "$deb")"

depends=$(dpkg-deb --field "$deb" Depends)
echo "Depends: $depends"
for dep in adduser libcaf-core libcpp-httplib; do
  [[ $depends == *"$dep"* ]] || fail "Depends lacks $dep"
done
# (Outputs go to variables first: `producer | grep -q` fails under pipefail
# when grep stops reading early.)
postinst=$(dpkg-deb --info "$deb" postinst) || fail "no postinst"
[[ $postinst == *"adduser --system"* ]] || fail "postinst makes no user"
[ "$(dpkg-deb --info "$deb" conffiles)" = /etc/default/gasched-node ] || fail "conffiles"
for script in postinst prerm postrm; do
  dpkg-deb --info "$deb" "$script" | sh -n || fail "$script is not valid sh"
done

root=$work/root
dpkg -x "$deb" "$root"
for f in usr/bin/gasched-node usr/bin/gasched-run usr/bin/gasched-ctl \
         usr/include/gasched/gasched.hpp usr/include/gasched/http.hpp \
         usr/lib/cmake/gasched/gaschedConfig.cmake \
         usr/lib/systemd/system/gasched-node.service etc/default/gasched-node; do
  [ -e "$root/$f" ] || fail "not in the package: $f"
done
lib=$(find "$root/usr/lib" -maxdepth 2 -name 'libgasched.so.*' | head -n 1)
[ -n "$lib" ] || fail "no libgasched.so in the package"

unit=$root/usr/lib/systemd/system/gasched-node.service
for line in "Restart=on-failure" "User=gasched" "EnvironmentFile=-/etc/default/gasched-node" \
            'ExecStart=/usr/bin/gasched-node $GASCHED_NODE_OPTS'; do
  grep -qxF "$line" "$unit" || fail "the unit lacks $line"
done
if command -v systemd-analyze >/dev/null; then
  # A copy whose ExecStart points into the unpacked root; any remark (an
  # unknown key is only a warning) fails.
  mkdir -p "$work/unit"
  sed "s|/usr/bin/gasched-node|$root/usr/bin/gasched-node|" "$unit" >"$work/unit/gasched-node.service"
  remarks=$(systemd-analyze verify --man=no "$work/unit/gasched-node.service" 2>&1) \
    || fail "systemd-analyze verify: $remarks"
  [ -z "$remarks" ] || fail "systemd-analyze verify: $remarks"
fi

# The programs run from the unpacked root, with its library.
export LD_LIBRARY_PATH=$(dirname "$lib")
help=$("$root/usr/bin/gasched-node" --help) || fail "gasched-node --help"
[[ $help == *"--join"* ]] || fail "gasched-node --help: $help"
help=$("$root/usr/bin/gasched-ctl" --help) || fail "gasched-ctl --help"
[[ $help == *"--watch"* ]] || fail "gasched-ctl --help: $help"

# A node from the package: read its first line, waiting at most 20 s.
exec 3< <(exec "$root/usr/bin/gasched-node" --port 0 --name pkg-node 2>"$work/node.err")
node_pid=$!
line=""
read -r -t 20 -u 3 line || true
kill -TERM "$node_pid" 2>/dev/null || true
timeout 10 tail --pid="$node_pid" -f /dev/null || kill -KILL "$node_pid" 2>/dev/null || true
[[ $line == "gasched-node pkg-node listening on 127.0.0.1:"* ]] \
  || fail "the node said '$line'; stderr: $(cat "$work/node.err")"
echo "node: $line"
echo "test-package: OK"
