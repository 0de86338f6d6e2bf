package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

var lookPath = exec.LookPath

// bench holds one run's settings.
type bench struct {
	bin     string
	dir     string
	size    int64
	runtime time.Duration
	log     io.Writer
}

// job is one fio workload.
type job struct {
	name    string
	rw      string
	bs      string
	iodepth int
}

var jobs = []job{
	{"4k-randwrite-qd32", "randwrite", "4k", 32},
	{"1m-write-qd8", "write", "1m", 8},
}

// result is one server's figures: IOPS for the 4 KiB job, MiB/s for the
// 1 MiB job.
type result struct {
	server string
	iops   float64
	mibps  float64
}

// server starts an NBD server and returns its URI and a stop function.
type server struct {
	name  string
	start func() (uri string, stop func(), err error)
}

func (b *bench) runAll() ([]result, error) {
	servers := []server{
		{"hast fullsync pair", b.startHast},
		{"qemu-nbd (unreplicated)", b.startQemuNBD},
		{"qemu quorum (RAID1 over NBD)", b.startQuorum},
	}
	var out []result
	for _, s := range servers {
		fmt.Fprintf(b.log, "== %s\n", s.name)
		uri, stop, err := s.start()
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", s.name, err)
		}
		r := result{server: s.name}
		for _, j := range jobs {
			iops, bw, err := b.fio(uri, j)
			if err != nil {
				stop()
				return nil, fmt.Errorf("%s, %s: %w", s.name, j.name, err)
			}
			fmt.Fprintf(b.log, "   %s: %.0f IOPS, %.1f MiB/s\n", j.name, iops, bw)
			if j.bs == "4k" {
				r.iops = iops
			} else {
				r.mibps = bw
			}
		}
		stop()
		out = append(out, r)
	}
	return out, nil
}

// image creates a sparse file of the bench size.
func (b *bench) image(name string) (string, error) {
	p := filepath.Join(b.dir, name)
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return p, f.Truncate(b.size)
}

// fio runs one job against uri and returns write IOPS and MiB/s.
func (b *bench) fio(uri string, j job) (iops, mibps float64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.runtime+2*time.Minute)
	defer cancel()
	args := []string{
		"--name=" + j.name, "--ioengine=nbd", "--uri=" + uri,
		"--rw=" + j.rw, "--bs=" + j.bs, fmt.Sprintf("--iodepth=%d", j.iodepth),
		fmt.Sprintf("--size=%d", b.size/2), "--time_based", fmt.Sprintf("--runtime=%ds", int(b.runtime.Seconds())),
		"--output-format=json",
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "fio", args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("fio: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	var rep struct {
		Jobs []struct {
			Error int `json:"error"`
			Write struct {
				IOPS  float64 `json:"iops"`
				BWKiB float64 `json:"bw"`
			} `json:"write"`
		} `json:"jobs"`
	}
	// fio may print notices before the JSON document.
	text := out.Bytes()
	if i := bytes.IndexByte(text, '{'); i > 0 {
		text = text[i:]
	}
	if err := json.Unmarshal(text, &rep); err != nil {
		return 0, 0, fmt.Errorf("parse fio output: %w", err)
	}
	if len(rep.Jobs) == 0 || rep.Jobs[0].Error != 0 {
		return 0, 0, errors.New("fio reported an error")
	}
	return rep.Jobs[0].Write.IOPS, rep.Jobs[0].Write.BWKiB / 1024, nil
}

// background starts a process whose output goes to a log file and returns
// a function that stops it.
func (b *bench) background(name string, args ...string) (func(), error) {
	return b.backgroundLog(filepath.Base(name)+".log", name, args...)
}

// backgroundLog is background with the log file named logName.
func (b *bench) backgroundLog(logName, name string, args ...string) (func(), error) {
	logf, err := os.Create(filepath.Join(b.dir, logName))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	return func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
	}, nil
}

// waitSocket waits for a unix socket to appear.
func waitSocket(path string) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("socket %s did not appear", path)
}

func (b *bench) startQemuNBD() (string, func(), error) {
	img, err := b.image("single.img")
	if err != nil {
		return "", nil, err
	}
	sock := filepath.Join(b.dir, "single.sock")
	stop, err := b.background("qemu-nbd", "-f", "raw", "-k", sock, "-x", "e", "-t", img)
	if err != nil {
		return "", nil, err
	}
	if err := waitSocket(sock); err != nil {
		stop()
		return "", nil, err
	}
	return "nbd+unix:///e?socket=" + sock, stop, nil
}

func (b *bench) startQuorum() (string, func(), error) {
	a, err := b.image("quorum-a.img")
	if err != nil {
		return "", nil, err
	}
	bimg, err := b.image("quorum-b.img")
	if err != nil {
		return "", nil, err
	}
	bsock := filepath.Join(b.dir, "quorum-b.sock")
	stopB, err := b.background("qemu-nbd", "-f", "raw", "-k", bsock, "-x", "e", "-t", bimg)
	if err != nil {
		return "", nil, err
	}
	if err := waitSocket(bsock); err != nil {
		stopB()
		return "", nil, err
	}
	qsock := filepath.Join(b.dir, "quorum.sock")
	opts := "driver=quorum,vote-threshold=2,read-pattern=fifo," +
		"children.0.driver=raw,children.0.file.driver=file,children.0.file.filename=" + a + "," +
		"children.1.driver=raw,children.1.file.driver=nbd,children.1.file.server.type=unix," +
		"children.1.file.server.path=" + bsock + ",children.1.file.export=e"
	stopQ, err := b.background("qemu-nbd", "-k", qsock, "-x", "e", "-t", "--image-opts", opts)
	if err != nil {
		stopB()
		return "", nil, err
	}
	if err := waitSocket(qsock); err != nil {
		stopQ()
		stopB()
		return "", nil, err
	}
	return "nbd+unix:///e?socket=" + qsock, func() { stopQ(); stopB() }, nil
}

// report renders the results as a Markdown table with the ratios the
// targets are stated in, then the failover times.
func report(rs []result, fos []failoverResult) string {
	var b strings.Builder
	b.WriteString("| server | 4 KiB rand write QD32 (IOPS) | 1 MiB seq write QD8 (MiB/s) |\n|---|---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %.0f | %.0f |\n", r.server, r.iops, r.mibps)
	}
	if len(rs) == 3 && rs[1].iops > 0 && rs[2].iops > 0 && rs[1].mibps > 0 && rs[2].mibps > 0 {
		h, single, quorum := rs[0], rs[1], rs[2]
		fmt.Fprintf(&b, "\nhast / qemu quorum: %.2fx IOPS, %.2fx MiB/s (target at least 1.2x)\n", h.iops/quorum.iops, h.mibps/quorum.mibps)
		fmt.Fprintf(&b, "hast / qemu-nbd:    %.2fx IOPS, %.2fx MiB/s (target at least 0.7x)\n", h.iops/single.iops, h.mibps/single.mibps)
	}
	if len(fos) > 0 {
		fmt.Fprintf(&b, "\n| profile (lease) | failover, kill -9 to first write acknowledged by the new primary: median of %d | min | max | target |\n|---|---|---|---|---|\n", failoverRuns)
		for _, fo := range fos {
			target, lease := "2 s", "1 s"
			if fo.profile == "fast" {
				target, lease = "1 s", "400 ms"
			}
			fmt.Fprintf(&b, "| %s (%s) | %v | %v | %v | under %s |\n", fo.profile, lease,
				fo.median().Round(time.Millisecond), fo.times[0].Round(time.Millisecond), fo.times[len(fo.times)-1].Round(time.Millisecond), target)
		}
	}
	return b.String()
}
