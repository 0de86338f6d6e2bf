#!/usr/bin/env bash
# make demo: two hastd nodes on loopback (127.0.0.11 and 127.0.0.12) and a
# hast-witness (127.0.0.13) in one Raft group, file-backed providers, ext4
# on /dev/hast/demo, files written on the primary, `hastctl switchover`
# moving the primary, then kill -9 of the primary with the filesystem
# mounted: the cluster fails over by itself and the new primary checks and
# mounts the filesystem with every file intact.
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
cluster {
	on hasta {
		raft 127.0.0.11:8458
		gossip 127.0.0.11:8459
		statedir $work/hasta.state
	}
	on hastb {
		raft 127.0.0.12:8458
		gossip 127.0.0.12:8459
		statedir $work/hastb.state
	}
	witness hastw {
		raft 127.0.0.13:8458
		gossip 127.0.0.13:8459
		statedir $work/hastw.state
		control $work/hastw.ctl
	}
}
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

say "hast.conf (the same file on all three hosts)"
cat "$work/hast.conf"

say "hastctl create on both nodes (256 MiB file-backed providers)"
for n in hasta hastb; do
	truncate -s 256M "$work/$n.img"
	ctl "$n" create demo
done
ctl hasta dump demo

say "start hastd on 127.0.0.11 (hasta), 127.0.0.12 (hastb) and hast-witness on 127.0.0.13"
for n in hasta hastb; do
	"$bin/hastd" -F -c "$work/hast.conf" -n "$n" 2>"$work/$n.log" &
	pids+=($!)
done
"$bin/hast-witness" -F -c "$work/hast.conf" -n hastw -P "$work/hastw.pid" 2>"$work/hastw.log" &
pids+=($!)
for n in hasta hastb; do wait_for 30 "hastd $n" ctl "$n" status; done
wait_for 30 "a Raft leader" bash -c "'$bin/hastctl' cluster -c '$work/hast.conf' -n hasta | grep -qi leader"
ctl hasta cluster

say "hastctl role primary on hasta: committed in Raft, hastb turns secondary by itself"
ctl hasta role primary demo
wait_for 60 "both nodes complete" bash -c "'$bin/hastctl' status -c '$work/hast.conf' -n hastb demo | grep -q 'complete secondary'"
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

say "hastctl switchover demo: demote hasta after its last write, promote hastb"
start=$(date +%s.%N)
ctl hasta switchover demo
wait_for 30 "/dev/hast/demo on hastb" test -b /dev/hast/demo
end=$(date +%s.%N)
ctl hastb status demo

say "fsck -n and mount on hastb, check every file"
fsck.ext4 -n -f /dev/hast/demo
mount /dev/hast/demo "$mnt"
(cd "$mnt" && sha256sum --quiet -c "$work/sums") && echo "all 200 files intact on the new primary"
umount "$mnt"
printf 'switchover took %.2f s\n' "$(awk "BEGIN{print $end-$start}")"

say "write 100 more files on hastb with the filesystem mounted, sync"
mount /dev/hast/demo "$mnt"
for i in $(seq -w 201 300); do head -c $((4096 + 10#$i * 57)) /dev/urandom >"$mnt/file$i"; done
sync
(cd "$mnt" && sha256sum file* >"$work/sums")
ctl hastb status demo

say "kill -9 hastd on hastb, the primary, with the filesystem mounted"
bpid=$(cat "$work/hastb.pid")
start=$(date +%s.%N)
kill -9 "$bpid"
# On a real cluster the dead host's mount dies with it; on this one machine
# it would keep the loop device busy, so it is detached lazily.
umount -l "$mnt"
wait_for 30 "hasta promoted by the cluster" bash -c "'$bin/hastctl' status -c '$work/hast.conf' -n hasta demo | grep -q primary"
wait_for 30 "/dev/hast/demo on hasta" bash -c "'$bin/hastctl' list -c '$work/hast.conf' -n hasta demo | grep -q '/dev/hast/demo ->'"
end=$(date +%s.%N)
ctl hasta status demo
grep -h 'failover' "$work"/hastw.log "$work"/hasta.log | grep -v DEBUG | tail -3 || true

say "fsck (journal replay) and mount on hasta, check all 300 files"
fsck.ext4 -p /dev/hast/demo || [ $? -le 1 ]
mount /dev/hast/demo "$mnt"
(cd "$mnt" && sha256sum --quiet -c "$work/sums") && echo "all 300 files intact on the new primary"
umount "$mnt"
printf 'failover took %.2f s from kill -9 to /dev/hast/demo on the new primary (lease %s)\n' \
	"$(awk "BEGIN{print $end-$start}")" "1s, the lan profile's default"

say "restart hastd on hastb: it learns it was deposed, turns secondary and resyncs"
"$bin/hastd" -F -c "$work/hast.conf" -n hastb 2>>"$work/hastb.log" &
pids+=($!)
wait_for 60 "hastb in sync" bash -c "'$bin/hastctl' status -c '$work/hast.conf' -n hastb demo | grep -q 'complete secondary'"
ctl hasta status demo
ctl hastb status demo
