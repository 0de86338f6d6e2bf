#!/usr/bin/env bash
# make demo: two hastd nodes on loopback (127.0.0.11 and 127.0.0.12) with
# file-backed providers, ext4 on /dev/hast/demo, files written on the
# primary, the roles switched by hand as in the FreeBSD Handbook, and the
# filesystem checked and mounted on the new primary with every file intact.
# Needs root (FUSE, loop devices, mount). Cleans up after itself.
set -euo pipefail

bin=$(cd "$(dirname "$0")/../bin" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "make demo needs root (FUSE, loop devices, mount)" >&2; exit 77; }
for tool in mkfs.ext4 fsck.ext4 sha256sum; do
	command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y e2fsprogs coreutils" >&2; exit 69; }
done

work=$(mktemp -d /tmp/hast-demo.XXXXXX)
mnt=$work/mnt
mkdir -p "$mnt"
pids=()
cleanup() {
	set +e
	mountpoint -q "$mnt" && umount "$mnt"
	for n in hasta hastb; do "$bin/hastctl" role -c "$work/hast.conf" -n "$n" init demo >/dev/null 2>&1; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ctl() { local node=$1; shift; local cmd=$1; shift; "$bin/hastctl" "$cmd" -c "$work/hast.conf" -n "$node" "$@"; }
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
	local limit=$1 what=$2; shift 2
	for _ in $(seq $((limit * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "timed out waiting for $what" >&2; return 1
}

cat >"$work/hast.conf" <<CONF
on hasta {
	control $work/hasta.ctl
	pidfile $work/hasta.pid
	listen 127.0.0.11
}
on hastb {
	control $work/hastb.ctl
	pidfile $work/hastb.pid
	listen 127.0.0.12
}
resource demo {
	replication fullsync
	on hasta {
		local $work/hasta.img
		remote 127.0.0.12
		source 127.0.0.11
		nbd $work/hasta.nbd
	}
	on hastb {
		local $work/hastb.img
		remote 127.0.0.11
		source 127.0.0.12
		nbd $work/hastb.nbd
	}
}
CONF

say "hast.conf (the same file on both nodes)"
cat "$work/hast.conf"

say "hastctl create on both nodes (256 MiB file-backed providers)"
for n in hasta hastb; do
	truncate -s 256M "$work/$n.img"
	ctl "$n" create demo
done
ctl hasta dump demo

say "start hastd on 127.0.0.11 (hasta) and 127.0.0.12 (hastb)"
for n in hasta hastb; do
	"$bin/hastd" -F -c "$work/hast.conf" -n "$n" 2>"$work/$n.log" &
	pids+=($!)
	wait_for 10 "hastd $n" ctl "$n" status
done

say "hastctl role secondary on hastb, role primary on hasta"
ctl hastb role secondary demo
ctl hasta role primary demo
wait_for 30 "both nodes complete" bash -c "'$bin/hastctl' status -c '$work/hast.conf' -n hastb demo | grep -q complete"
ctl hasta status demo
ctl hastb status demo
ctl hasta list demo

say "mkfs.ext4 /dev/hast/demo on hasta, mount, write 200 files"
mkfs.ext4 -q -F /dev/hast/demo
mount /dev/hast/demo "$mnt"
for i in $(seq -w 1 200); do head -c $((4096 + 10#$i * 113)) /dev/urandom >"$mnt/file$i"; done
(cd "$mnt" && sha256sum file* >"$work/sums")
df -h "$mnt" | tail -1
umount "$mnt"

say "switch roles by hand: hasta secondary, hastb primary"
start=$(date +%s.%N)
ctl hasta role secondary demo
ctl hastb role primary demo
wait_for 30 "/dev/hast/demo on hastb" test -b /dev/hast/demo
end=$(date +%s.%N)
ctl hastb status demo

say "fsck -n and mount on hastb, check every file"
fsck.ext4 -n -f /dev/hast/demo
mount /dev/hast/demo "$mnt"
(cd "$mnt" && sha256sum --quiet -c "$work/sums") && echo "all 200 files intact on the new primary"
umount "$mnt"
printf 'role switch took %.2f s (automatic failover comes with clustered mode)\n' "$(echo "$end - $start" | bc -l 2>/dev/null || awk "BEGIN{print $end-$start}")"
