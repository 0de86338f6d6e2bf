package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// hastConf is the two-node configuration the bench runs, in fullsync.
const hastConf = `on hasta {
	control %[1]s/hasta.ctl
	pidfile %[1]s/hasta.pid
	listen 127.0.0.11
}
on hastb {
	control %[1]s/hastb.ctl
	pidfile %[1]s/hastb.pid
	listen 127.0.0.12
}
resource shared {
	replication fullsync
	frontend nbd
	on hasta {
		local %[1]s/hasta.img
		remote 127.0.0.12
		source 127.0.0.11
		nbd %[1]s/hasta.nbd
	}
	on hastb {
		local %[1]s/hastb.img
		remote 127.0.0.11
		source 127.0.0.12
		nbd %[1]s/hastb.nbd
	}
}
`

// hastctl runs hastctl for node and returns its output.
func (b *bench) hastctl(conf, node string, args ...string) (string, error) {
	full := append([]string{args[0], "-c", conf, "-n", node}, args[1:]...)
	out, err := exec.Command(filepath.Join(b.bin, "hastctl"), full...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("hastctl %s: %w: %s", strings.Join(full, " "), err, out)
	}
	return string(out), nil
}

func (b *bench) startHast() (string, func(), error) {
	for _, n := range []string{"hasta.img", "hastb.img"} {
		if _, err := b.image(n); err != nil {
			return "", nil, err
		}
	}
	conf := filepath.Join(b.dir, "hast.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, hastConf, b.dir), 0o600); err != nil {
		return "", nil, err
	}
	for _, node := range []string{"hasta", "hastb"} {
		if _, err := b.hastctl(conf, node, "create", "shared"); err != nil {
			return "", nil, err
		}
	}
	var stops []func()
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	for _, node := range []string{"hasta", "hastb"} {
		stop, err := b.background(filepath.Join(b.bin, "hastd"), "-F", "-c", conf, "-n", node)
		if err != nil {
			stopAll()
			return "", nil, err
		}
		stops = append(stops, stop)
		if err := waitSocket(filepath.Join(b.dir, node+".ctl")); err != nil {
			stopAll()
			return "", nil, err
		}
	}
	if _, err := b.hastctl(conf, "hastb", "role", "secondary", "shared"); err != nil {
		stopAll()
		return "", nil, err
	}
	if _, err := b.hastctl(conf, "hasta", "role", "primary", "shared"); err != nil {
		stopAll()
		return "", nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := b.hastctl(conf, "hasta", "list", "shared")
		if err == nil && strings.Contains(out, "  status: complete\n") && !strings.Contains(out, "  sync:") {
			return exportOf(out), stopAll, nil
		}
		if time.Now().After(deadline) {
			stopAll()
			return "", nil, fmt.Errorf("hast pair did not reach status complete: %s %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exportOf returns the NBD URI hastctl list prints on its "nbd:" line.
func exportOf(list string) string {
	sc := bufio.NewScanner(bytes.NewBufferString(list))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "nbd: "); ok {
			return v
		}
	}
	return ""
}
