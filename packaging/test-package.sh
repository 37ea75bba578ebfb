#!/usr/bin/env bash
# Builds the Debian packages with cpack and installs them with dpkg into a
# throw-away root: its own database (a copy of this machine's, so that the
# packages' Depends are checked against what is installed here) and its own
# directory tree, nothing of this machine changed. dpkg unpacks the three
# packages (a file in two of them fails), then checks every Depends as
# configuring would (--dry-run: the maintainer scripts would make a system
# user here; they are checked for syntax instead). Then: what each package
# holds, lintian, and the programs run from the root, with its libraries.
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
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=usr/lib/$triplet
one() {  # the one package file named $1_*.deb
  local found=("$work"/out/$1_*.deb)
  [ -f "${found[0]}" ] && [ ${#found[@]} = 1 ] || fail "no single $1 package in $work/out"
  echo "${found[0]}"
}
runtime=$(one 'libgasched[0-9]*')
dev=$(one libgasched-dev)
programs=$(one gasched)
[ "$(ls "$work"/out/*.deb | wc -l)" = 3 ] || fail "not three packages: $(ls "$work"/out)"
lib_package=$(dpkg-deb --field "$runtime" Package)
version=$(dpkg-deb --field "$runtime" Version)
echo "packages: $(cd "$work/out" && echo *.deb)"

depends_on() {  # package file, then each dependency its Depends must name
  local deb=$1 depends
  shift
  depends=$(dpkg-deb --field "$deb" Depends)
  echo "$(basename "$deb"): Depends: $depends"
  for dep in "$@"; do
    [[ ", $depends," == *", $dep,"* ]] || fail "$(basename "$deb"): Depends lacks '$dep'"
  done
}
depends_on "$programs" adduser "$lib_package (= $version)"
depends_on "$dev" "$lib_package (= $version)" libcaf-dev
depends_on "$runtime"
[[ $(dpkg-deb --field "$runtime" Depends) == *libcaf-core0.17* ]] || fail "runtime: no libcaf-core"

# (Outputs go to variables first: `producer | grep -q` fails under pipefail
# when grep stops reading early.)
postinst=$(dpkg-deb --info "$programs" postinst) || fail "no postinst"
[[ $postinst == *"adduser --system"* ]] || fail "postinst makes no user"
[ "$(dpkg-deb --info "$programs" conffiles)" = "/etc/default/gasched-node
/etc/default/gasched-scheduler" ] || fail "conffiles: $(dpkg-deb --info "$programs" conffiles)"
for script in postinst prerm postrm; do
  dpkg-deb --info "$programs" "$script" | sh -n || fail "$script is not valid sh"
done
[ "$(dpkg-deb --info "$runtime" triggers)" = "activate-noawait ldconfig" ] \
  || fail "no ldconfig trigger"

# The throw-away root. dpkg warns that this machine's file lists are not in
# the copy: those lines are left out.
root=$work/root
admin=$work/dpkg
mkdir -p "$root" "$admin/info" "$admin/updates"
cp /var/lib/dpkg/status "$admin/status"
in_root() {
  dpkg --admindir="$admin" --instdir="$root" --log="$work/dpkg.log" --force-not-root "$@" 2>&1 \
    | { grep -v "files list file for package .* missing" || true; }
  return "${PIPESTATUS[0]}"
}
in_root --unpack "$runtime" "$dev" "$programs" >"$work/unpack.log" \
  || fail "dpkg --unpack: $(cat "$work/unpack.log")"
in_root --dry-run --configure -a >"$work/configure.log" \
  || fail "the packages' dependencies: $(cat "$work/configure.log")"

[ -e "$root/$libdir/libgasched.so.$version" ] || fail "libgasched.so.$version is not in" \
  "/$libdir: the build has $(grep '^CMAKE_INSTALL_LIBDIR:' "$build/CMakeCache.txt");" \
  "configure it with -DCMAKE_INSTALL_LIBDIR=lib/$triplet, or configure a new build directory"
# The runtime package is named after libgasched's SONAME (policy 8.1).
soname=$(readelf -d "$root/$libdir/libgasched.so.$version" \
         | sed -n 's/.*Library soname: \[libgasched\.so\.\(.*\)\]/\1/p')
[ "$lib_package" = "libgasched$soname" ] || fail "$lib_package holds libgasched.so.$soname"

holds() {  # package, then path patterns (grep -E) each must match in its file list
  local package=$1 files
  shift
  files=$(dpkg-query --admindir="$admin" -L "$package")
  for pattern in "$@"; do
    grep -qE "^/($pattern)\$" <<<"$files" || fail "$package lacks $pattern"
  done
}
holds_none() {  # package, then path patterns none of its files may match
  local package=$1 files
  shift
  files=$(dpkg-query --admindir="$admin" -L "$package")
  for pattern in "$@"; do
    ! grep -E "^/($pattern)" <<<"$files" || fail "$package holds $pattern"
  done
}
holds "$lib_package" "$libdir/libgasched\.so\.$soname" "$libdir/libgasched_node_main\.so\.$soname" \
  "$libdir/libgasched-http\.so\.$soname"
holds_none "$lib_package" usr/include usr/bin "$libdir/cmake" "$libdir/[^/]*\.so\$"
holds libgasched-dev usr/include/gasched/gasched.hpp usr/include/gasched/http.hpp \
  "$libdir/cmake/gasched/gaschedConfig.cmake" "$libdir/libgasched\.so" \
  "$libdir/libgasched_node_main\.so" "$libdir/libgasched-http\.so"
holds_none libgasched-dev usr/bin "$libdir/[^/]*\.so\."
holds gasched usr/bin/gasched-node usr/bin/gasched-run usr/bin/gasched-ctl usr/bin/gasched-certs \
  usr/lib/systemd/system/gasched-node.service etc/default/gasched-node \
  usr/lib/systemd/system/gasched-scheduler.service etc/default/gasched-scheduler
holds_none gasched usr/include "$libdir"
# Each library of the runtime package has its link (what -lNAME finds) in -dev.
libs=$(dpkg-query --admindir="$admin" -L "$lib_package" \
       | grep -E "^/$libdir/lib[^/]*\.so\.$soname\$")
for lib in $libs; do
  name=${lib#/}
  holds libgasched-dev "${name%.so.*}\.so"
done
# (A conffile is unpacked as .dpkg-new until configured.)
for conffile in gasched-node gasched-scheduler; do
  mv "$root/etc/default/$conffile.dpkg-new" "$root/etc/default/$conffile"
done

# A project finds gasched in the root with the CMake package of -dev, whose
# targets name files of the runtime package (configuring checks they exist).
consumer=$work/consumer
cmake -S "$(dirname "$0")/../tests/install/consumer" -B "$consumer" \
  -DCMAKE_PREFIX_PATH="$root/usr" \
  >"$work/consumer.log" 2>&1 || fail "a consumer does not configure: $(cat "$work/consumer.log")"
found=$(sed -n 's/^gasched_DIR:PATH=//p' "$consumer/CMakeCache.txt")
[ "$found" = "$root/$libdir/cmake/gasched" ] || fail "the consumer found gasched in '$found'"

# Errors and warnings fail; the tags left (each explained in the package's
# lintian overrides or in packaging/CMakeLists.txt) are informational.
lintian --fail-on error,warning "$runtime" "$dev" "$programs" >"$work/lintian.log" 2>&1 \
  || fail "lintian: $(cat "$work/lintian.log")"

units=$root/usr/lib/systemd/system
unit_has() {  # unit, then lines it must hold
  local unit=$1
  shift
  for line in "$@"; do
    grep -qxF "$line" "$units/$unit" || fail "$unit lacks $line"
  done
}
unit_has gasched-node.service "Restart=on-failure" "User=gasched" \
  "EnvironmentFile=-/etc/default/gasched-node" 'ExecStart=/usr/bin/gasched-node $GASCHED_NODE_OPTS'
unit_has gasched-scheduler.service "Restart=on-failure" "StartLimitIntervalSec=0" \
  "User=gasched" "StateDirectory=gasched" "ProtectSystem=strict" "NoNewPrivileges=yes" \
  "EnvironmentFile=-/etc/default/gasched-scheduler" \
  'ExecStart=/usr/bin/gasched-run --serve --nodes 0 $GASCHED_SCHEDULER_OPTS'
# The scheduler's default options parse and keep its journal in the state
# directory; the standby's options are there, commented.
defaults=$root/etc/default/gasched-scheduler
sh -n "$defaults" || fail "/etc/default/gasched-scheduler is not valid sh"
opts=$(sh -c ". \"$defaults\" && echo \"\$GASCHED_SCHEDULER_OPTS\"")
[[ $opts == *"--journal /var/lib/gasched/"* ]] || fail "the scheduler's defaults: $opts"
for option in --advertise --lease-time "--journal postgresql://"; do
  grep -q -- "^#.*$option" "$defaults" || fail "the scheduler's defaults do not mention $option"
done
if command -v systemd-analyze >/dev/null; then
  # Copies whose ExecStart points into the root; any remark (an unknown key
  # is only a warning) fails.
  mkdir -p "$work/unit"
  for unit in gasched-node gasched-scheduler; do
    sed "s|/usr/bin/gasched-|$root/usr/bin/gasched-|" "$units/$unit.service" \
      >"$work/unit/$unit.service"
    remarks=$(systemd-analyze verify --man=no "$work/unit/$unit.service" 2>&1) \
      || fail "systemd-analyze verify $unit: $remarks"
    [ -z "$remarks" ] || fail "systemd-analyze verify $unit: $remarks"
  done
else
  # No systemd here: each line is a section, a comment or KEY=VALUE.
  for unit in gasched-node gasched-scheduler; do
    bad=$(grep -vnE '^(#.*|\[[A-Za-z]+\]|[A-Za-z]+=.*|)$' "$units/$unit.service" || true)
    [ -z "$bad" ] || fail "$unit.service: lines that are no unit syntax: $bad"
  done
fi

# The programs run from the root and find its libraries in the multiarch
# directory by their own runtime path, not by LD_LIBRARY_PATH.
unset LD_LIBRARY_PATH
bin=$root/usr/bin
for program in gasched-node gasched-run gasched-ctl; do
  resolved=$(ldd "$bin/$program" | awk -v lib="libgasched.so.$soname" '$1 == lib { print $3 }')
  [ -n "$resolved" ] \
    && [ "$(realpath "$resolved")" = "$(realpath "$root/$libdir/libgasched.so.$soname")" ] \
    || fail "$program does not load the root's libgasched: $(ldd "$bin/$program")"
done
help=$("$bin/gasched-node" --help) || fail "gasched-node --help"
[[ $help == *"--join"* ]] || fail "gasched-node --help: $help"
help=$("$bin/gasched-ctl" --help) || fail "gasched-ctl --help"
[[ $help == *"--watch"* ]] || fail "gasched-ctl --help: $help"
help=$("$bin/gasched-run" --help) || fail "gasched-run --help"
[[ $help == *"--tasks"* ]] || fail "gasched-run --help: $help"
# The scheduler service's command line, as systemd runs it (--help after the
# options: parsed, then nothing started).
# shellcheck disable=SC2086  # split into words as systemd splits $VAR
"$bin/gasched-run" --serve --nodes 0 $opts --help >/dev/null \
  || fail "gasched-run refuses the scheduler service's options: $opts"
"$bin/gasched-certs" "$work/certs" pkg-node >"$work/certs.log" 2>&1 \
  || fail "gasched-certs: $(cat "$work/certs.log")"
[ -s "$work/certs/pkg-node/cert.pem" ] || fail "gasched-certs made no certificate"

# A node from the package: read its first line, waiting at most 20 s.
exec 3< <(exec "$bin/gasched-node" --port 0 --name pkg-node 2>"$work/node.err")
node_pid=$!
line=""
read -r -t 20 -u 3 line || true
kill -TERM "$node_pid" 2>/dev/null || true
timeout 10 tail --pid="$node_pid" -f /dev/null || kill -KILL "$node_pid" 2>/dev/null || true
[[ $line == "gasched-node pkg-node listening on 127.0.0.1:"* ]] \
  || fail "the node said '$line'; stderr: $(cat "$work/node.err")"
echo "node: $line"
echo "test-package: OK"
