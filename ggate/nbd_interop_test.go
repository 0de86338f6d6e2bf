package ggate

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests drive the server with the real NBD clients Debian ships
// (libnbd-bin, qemu-utils, fio); each is skipped when its binary is missing.

const clientTimeout = 60 * time.Second

// needBinary skips the test unless name is in PATH.
func needBinary(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not in PATH", name)
	}
}

// runClient runs a client to completion within clientTimeout and returns its
// combined output, failing the test on a non-zero exit.
func runClient(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	// Clients may leave files behind (fio's verify state); keep them out of
	// the source tree.
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %v\n%s", name, strings.Join(args, " "), clientTimeout, out)
	}
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// serveForClients serves cfg on a unix socket and returns the export URI.
func serveForClients(t *testing.T, cfg NBDConfig) string {
	t.Helper()
	srv := newTestServer(t, cfg)
	path, _ := serveUnix(t, srv)
	return UnixURI("disk", path)
}

// randomFile writes size random bytes to a file in a test directory.
func randomFile(t *testing.T, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(size), 7))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	// Leave a zero megabyte in the middle, as real images have.
	clear(data[size/2 : size/2+1<<20])
	path := filepath.Join(t.TempDir(), "src.img")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func TestInteropNbdinfo(t *testing.T) {
	needBinary(t, "nbdinfo")
	for _, readOnly := range []bool{false, true} {
		uri := serveForClients(t, NBDConfig{Device: NewMemDevice(8 << 20), ReadOnly: readOnly, Description: "test disk"})
		out := runClient(t, "nbdinfo", "--json", uri)
		var info struct {
			Protocol   string `json:"protocol"`
			Structured bool   `json:"structured"`
			Exports    []struct {
				Name         string `json:"export-name"`
				Description  string `json:"description"`
				Size         int64  `json:"export-size"`
				ReadOnly     bool   `json:"is_read_only"`
				CanMultiConn bool   `json:"can_multi_conn"`
				CanFlush     bool   `json:"can_flush"`
				CanFUA       bool   `json:"can_fua"`
				CanTrim      bool   `json:"can_trim"`
				CanZero      bool   `json:"can_zero"`
				CanCache     bool   `json:"can_cache"`
				CanDF        bool   `json:"can_df"`
				MinBlock     int64  `json:"block_size_minimum"`
				PrefBlock    int64  `json:"block_size_preferred"`
				MaxBlock     int64  `json:"block_size_maximum"`
			} `json:"exports"`
		}
		if err := json.Unmarshal(out, &info); err != nil {
			t.Fatalf("nbdinfo output: %v\n%s", err, out)
		}
		if info.Protocol != "newstyle-fixed" || !info.Structured || len(info.Exports) != 1 {
			t.Fatalf("nbdinfo: %s", out)
		}
		e := info.Exports[0]
		if e.Name != "disk" || e.Description != "test disk" || e.Size != 8<<20 || e.ReadOnly != readOnly {
			t.Fatalf("nbdinfo export: %+v", e)
		}
		if !e.CanMultiConn || !e.CanFlush || !e.CanFUA || !e.CanCache || !e.CanDF || e.CanTrim == readOnly || e.CanZero == readOnly {
			t.Fatalf("nbdinfo capabilities (read-only %v): %+v", readOnly, e)
		}
		if e.MinBlock != 1 || e.PrefBlock != 4096 || e.MaxBlock != DefaultMaxRequest {
			t.Fatalf("nbdinfo block sizes %d/%d/%d", e.MinBlock, e.PrefBlock, e.MaxBlock)
		}
	}
}

func TestInteropQemuImg(t *testing.T) {
	needBinary(t, "qemu-img")
	const size = 16 << 20
	dev := newFileDevice(t, size)
	uri := serveForClients(t, NBDConfig{Device: dev})
	src, data := randomFile(t, size)

	out := runClient(t, "qemu-img", "info", "--output=json", uri)
	var info struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal(out, &info); err != nil || info.VirtualSize != size {
		t.Fatalf("qemu-img info: %v\n%s", err, out)
	}

	runClient(t, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", src, uri)
	if !bytes.Equal(dev.contents(t), data) {
		t.Fatal("export differs from the source after qemu-img convert")
	}
	runClient(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", src, uri)

	dst := filepath.Join(t.TempDir(), "dst.img")
	runClient(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", uri, dst)
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("file converted from the export differs (%v)", err)
	}
}

func TestInteropQemuIO(t *testing.T) {
	needBinary(t, "qemu-io")
	dev := NewMemDevice(4 << 20)
	uri := serveForClients(t, NBDConfig{Device: dev})
	out := runClient(t, "qemu-io", "-f", "raw",
		"-c", "write -P 0xab 0 1M",
		"-c", "write -z 512k 4k",
		"-c", "read -P 0xab 0 512k",
		"-c", "read -P 0 512k 4k",
		"-c", "discard 2M 64k",
		"-c", "flush",
		uri)
	if bytes.Contains(out, []byte("failed")) || bytes.Contains(out, []byte("error")) {
		t.Fatalf("qemu-io reported a failure:\n%s", out)
	}
	got := make([]byte, 1<<20)
	dev.ReadAt(got, 0)
	for i, b := range got {
		want := byte(0xab)
		if i >= 512<<10 && i < 516<<10 {
			want = 0
		}
		if b != want {
			t.Fatalf("byte %d is %#x, want %#x", i, b, want)
		}
	}
	if dev.Flushes() == 0 {
		t.Fatal("qemu-io flush did not reach the device")
	}
}

func TestInteropNbdcopy(t *testing.T) {
	needBinary(t, "nbdcopy")
	const size = 16 << 20
	dev := newFileDevice(t, size)
	uri := serveForClients(t, NBDConfig{Device: dev})
	src, data := randomFile(t, size)

	runClient(t, "nbdcopy", src, uri)
	if !bytes.Equal(dev.contents(t), data) {
		t.Fatal("export differs from the source after nbdcopy")
	}
	dst := filepath.Join(t.TempDir(), "dst.img")
	runClient(t, "nbdcopy", uri, dst)
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("file copied from the export differs (%v)", err)
	}
}

func TestInteropFio(t *testing.T) {
	needBinary(t, "fio")
	dev := NewMemDevice(8 << 20)
	uri := serveForClients(t, NBDConfig{Device: dev})
	out := runClient(t, "fio", "--name=verify", "--ioengine=nbd", "--uri="+uri,
		"--rw=randwrite", "--bs=4k", "--size=8M", "--iodepth=16",
		"--verify=crc32c", "--verify_fatal=1", "--do_verify=1", "--verify_state_save=0",
		"--output-format=json")
	var res struct {
		Jobs []struct {
			Error int `json:"error"`
			Read  struct {
				IOBytes int64 `json:"io_bytes"`
			} `json:"read"`
			Write struct {
				IOBytes int64 `json:"io_bytes"`
			} `json:"write"`
		} `json:"jobs"`
	}
	if i := bytes.IndexByte(out, '{'); i >= 0 {
		out = out[i:]
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Jobs) != 1 {
		t.Fatalf("fio output: %v\n%s", err, out)
	}
	j := res.Jobs[0]
	if j.Error != 0 || j.Write.IOBytes != 8<<20 || j.Read.IOBytes != 8<<20 {
		t.Fatalf("fio job: error %d, wrote %d, verified %d bytes; want 0, 8 MiB, 8 MiB", j.Error, j.Write.IOBytes, j.Read.IOBytes)
	}
	first := make([]byte, 4096)
	dev.ReadAt(first, 0)
	if bytes.Equal(first, make([]byte, 4096)) {
		t.Fatal("fio left the device's first block zero")
	}
}
