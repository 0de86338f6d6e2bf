package main

import (
	"fmt"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// plotTitles are the plots' titles, by key.
var plotTitles = map[string]string{
	"latency":  "4 KiB random write QD1: completion latency percentiles",
	"qd":       "4 KiB random write IOPS by queue depth",
	"failover": "Failover times, in the order measured",
}

// renderPlots writes the plots into dir and returns their file names by
// key; a plot without data is left out.
func renderPlots(r *results, dir string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plot directory: %w", err)
	}
	out := map[string]string{}
	for _, p := range []struct {
		key  string
		make func(*results) (*plot.Plot, error)
	}{
		{"latency", latencyPlot},
		{"qd", queueDepthPlot},
		{"failover", failoverPlot},
	} {
		pl, err := p.make(r)
		if err != nil {
			return out, fmt.Errorf("plot %s: %w", p.key, err)
		}
		if pl == nil {
			continue
		}
		name := p.key + ".png"
		if err := pl.Save(8*vg.Inch, 5*vg.Inch, filepath.Join(dir, name)); err != nil {
			return out, fmt.Errorf("save plot %s: %w", p.key, err)
		}
		out[p.key] = name
	}
	return out, nil
}

// latencyPlot draws, per server, fio's clat percentiles of the QD1 random
// write job: the latency (log scale) at each percentile.
func latencyPlot(r *results) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = plotTitles["latency"]
	p.X.Label.Text = "completion latency (us, log scale)"
	p.Y.Label.Text = "percentile"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = false
	p.Legend.Left = false
	var args []any
	for _, s := range r.Servers {
		fr, ok := s.Jobs[jobQD1Write.name]
		if !ok || len(fr.Clat) == 0 {
			continue
		}
		var xys plotter.XYs
		for _, pc := range fr.percentiles() {
			if us := float64(fr.Clat[pc]) / 1e3; us > 0 {
				xys = append(xys, plotter.XY{X: us, Y: pc})
			}
		}
		args = append(args, s.Name, xys)
	}
	if len(args) == 0 {
		return nil, nil
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return nil, err
	}
	return p, nil
}

// queueDepthPlot draws the 4 KiB random write IOPS of the sweep servers
// at each queue depth.
func queueDepthPlot(r *results) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = plotTitles["qd"]
	p.X.Label.Text = "queue depth"
	p.Y.Label.Text = "IOPS"
	p.Legend.Top = true
	p.Legend.Left = true
	var args []any
	for _, s := range r.Servers {
		sw, ok := r.Sweep[s.Name]
		if !ok {
			continue
		}
		var xys plotter.XYs
		for _, qd := range sweepDepths {
			if v, ok := sw[qd]; ok {
				xys = append(xys, plotter.XY{X: float64(qd), Y: v})
			}
		}
		args = append(args, s.Name, xys)
	}
	if len(args) == 0 {
		return nil, nil
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return nil, err
	}
	p.Y.Min = 0
	return p, nil
}

// failoverPlot draws each profile's failover times in the order measured.
func failoverPlot(r *results) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = plotTitles["failover"]
	p.X.Label.Text = "failover run"
	p.Y.Label.Text = "kill -9 to first acknowledged write (s)"
	p.Legend.Top = true
	var args []any
	for _, fo := range r.Failover {
		if len(fo.order) == 0 {
			continue
		}
		xys := make(plotter.XYs, len(fo.order))
		for i, d := range fo.order {
			xys[i] = plotter.XY{X: float64(i + 1), Y: d.Seconds()}
		}
		args = append(args, "profile "+fo.profile, xys)
	}
	if len(args) == 0 {
		return nil, nil
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return nil, err
	}
	p.Y.Min = 0
	return p, nil
}
