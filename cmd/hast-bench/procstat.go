package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100
// on every Linux architecture Go supports.
const clockTicks = 100

// idleResult is a process group's footprint while idle.
type idleResult struct {
	RSS int64   // bytes, VmRSS summed over the processes at the end
	CPU float64 // percent of one core, utime+stime over the interval
}

// measureIdle samples the processes pids over d: their summed VmRSS at
// the end and their CPU use (utime+stime delta) during d.
func measureIdle(pids []int, d time.Duration) (idleResult, error) {
	ticks := func() (int64, error) {
		var sum int64
		for _, pid := range pids {
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil {
				return 0, err
			}
			t, err := parseStatTicks(string(data))
			if err != nil {
				return 0, fmt.Errorf("pid %d: %w", pid, err)
			}
			sum += t
		}
		return sum, nil
	}
	t0, err := ticks()
	if err != nil {
		return idleResult{}, err
	}
	start := time.Now()
	time.Sleep(d)
	t1, err := ticks()
	if err != nil {
		return idleResult{}, err
	}
	el := time.Since(start)
	res := idleResult{CPU: float64(t1-t0) / clockTicks / el.Seconds() * 100}
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return idleResult{}, err
		}
		rss, err := parseVmRSS(string(data))
		if err != nil {
			return idleResult{}, fmt.Errorf("pid %d: %w", pid, err)
		}
		res.RSS += rss
	}
	return res, nil
}

// parseVmRSS returns the VmRSS line of /proc/PID/status in bytes.
func parseVmRSS(status string) (int64, error) {
	for line := range strings.Lines(status) {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("VmRSS line %q", strings.TrimSpace(line))
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS: %w", err)
		}
		return n << 10, nil
	}
	return 0, errors.New("no VmRSS line in /proc/PID/status")
}

// parseStatTicks returns utime+stime (fields 14 and 15) of /proc/PID/stat.
// The command name, field 2, is in parentheses and may hold spaces and
// parentheses itself, so the fields are counted after its last ')'.
func parseStatTicks(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc/PID/stat without a command name")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/PID/stat has %d fields after the name", len(f))
	}
	var sum int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/PID/stat time: %w", err)
		}
		sum += n
	}
	return sum, nil
}

// machine describes the machine the bench ran on.
type machine struct {
	Cores  int
	Memory int64 // bytes, MemTotal
	Kernel string
	CPU    string // model name
	Go     string
}

// machineInfo reads the machine's description from /proc.
func machineInfo() machine {
	m := machine{Go: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.Cores, m.CPU = parseCPUInfo(string(data))
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.Memory = parseMemTotal(string(data))
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if m.Cores == 0 {
		m.Cores = runtime.NumCPU()
	}
	return m
}

// parseCPUInfo counts the processor entries of /proc/cpuinfo and returns
// the first model name.
func parseCPUInfo(cpuinfo string) (cores int, model string) {
	for line := range strings.Lines(cpuinfo) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			cores++
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		}
	}
	return cores, model
}

// parseMemTotal returns MemTotal of /proc/meminfo in bytes, 0 if absent.
func parseMemTotal(meminfo string) int64 {
	for line := range strings.Lines(meminfo) {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n << 10
			}
		}
	}
	return 0
}
