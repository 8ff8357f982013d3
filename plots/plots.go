package plots

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/seqdiff/seqdiff/internal/atomicfile"
	"github.com/seqdiff/seqdiff/train"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Style of each mode: colour-blind-safe Okabe-Ito colours and distinct
// glyphs, so the figures read in grey scale too.
type style struct {
	c     color.Color
	glyph draw.GlyphDrawer
	dash  []vg.Length
}

func modeStyle(mode string) style {
	switch mode {
	case "mdlm":
		return style{color.RGBA{0, 114, 178, 255}, draw.CircleGlyph{}, nil}
	case "ar":
		return style{color.RGBA{213, 94, 0, 255}, draw.TriangleGlyph{}, []vg.Length{vg.Points(5), vg.Points(3)}}
	case "mlm":
		return style{color.RGBA{0, 158, 115, 255}, draw.BoxGlyph{}, []vg.Length{vg.Points(2), vg.Points(2)}}
	}
	return style{color.RGBA{90, 90, 90, 255}, draw.CrossGlyph{}, []vg.Length{vg.Points(1), vg.Points(3)}}
}

// Figure names written by All (each as .png and .svg).
const (
	FigPPLAccuracy = "ppl_vs_accuracy"
	FigCurves      = "learning_curves"
	FigSampling    = "sampling_speed"
	FigQuality     = "sample_quality"
)

// All writes every figure that r has data for into dir and returns the
// files written.
func All(r *Runs, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	var files []string
	add := func(name string, panels []*plot.Plot, cols int, err error) error {
		if err != nil || len(panels) == 0 {
			return err
		}
		fs, err := saveTiled(panels, cols, filepath.Join(dir, name))
		files = append(files, fs...)
		return err
	}
	if len(r.Points) > 0 {
		ps, err := PerplexityAccuracy(r.Points)
		if err := add(FigPPLAccuracy, ps, min(len(ps), 3), err); err != nil {
			return files, err
		}
	}
	if len(r.Curves) > 0 {
		p, err := LearningCurves(r.Curves)
		if err := add(FigCurves, []*plot.Plot{p}, 1, err); err != nil {
			return files, err
		}
	}
	if len(r.Bench) > 0 {
		p, err := SamplingSpeed(r.Bench)
		if err := add(FigSampling, []*plot.Plot{p}, 1, err); err != nil {
			return files, err
		}
		if hasQuality(r.Bench) {
			p, err := SampleQuality(r.Bench, 6)
			if err := add(FigQuality, []*plot.Plot{p}, 1, err); err != nil {
				return files, err
			}
		}
	}
	if len(files) == 0 {
		return nil, errors.New("plot: the run directories hold no ppl.json+results.json, metrics.jsonl or bench.jsonl")
	}
	return files, nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text, p.Y.Label.Text = x, y
	p.X.Label.TextStyle.Font.Size, p.Y.Label.TextStyle.Font.Size = vg.Points(11), vg.Points(11)
	p.X.Tick.Label.Font.Size, p.Y.Tick.Label.Font.Size = vg.Points(9), vg.Points(9)
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Add(plotter.NewGrid())
	return p
}

// errPoints are points with asymmetric y error bars.
type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// PerplexityAccuracy is one panel per task and an overview panel: test
// perplexity (x) against mean test accuracy over seeds (y) with min-max
// error bars, one point per model, modes (ar, mdlm, the kmer baseline) in distinct colours and glyphs.
func PerplexityAccuracy(points []Point) ([]*plot.Plot, error) {
	var tasks []string
	for _, p := range points {
		if !slices.Contains(tasks, p.Results.Task) {
			tasks = append(tasks, p.Results.Task)
		}
	}
	sort.Strings(tasks)
	xlabel := "test perplexity per base (AR, k-mer exact; MDLM upper bound)"
	var panels []*plot.Plot
	for _, task := range tasks {
		var sub []Point
		for _, p := range points {
			if p.Results.Task == task {
				sub = append(sub, p)
			}
		}
		p := newPlot(task, xlabel, "test accuracy (mean, min-max over seeds)")
		if err := addModePoints(p, sub); err != nil {
			return nil, err
		}
		panels = append(panels, p)
	}
	over := newPlot("Overview: all tasks", xlabel, "test accuracy (mean over seeds)")
	for _, mode := range modesOf(points) {
		var xy plotter.XYs
		var names []string
		for _, p := range points {
			if p.Mode == mode {
				xy = append(xy, plotter.XY{X: p.PPL, Y: p.Results.Accuracy.Mean})
				names = append(names, " "+p.Results.Task)
			}
		}
		s, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, err
		}
		st := modeStyle(mode)
		s.GlyphStyle.Color, s.GlyphStyle.Shape, s.GlyphStyle.Radius = st.c, st.glyph, vg.Points(4)
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: names})
		if err != nil {
			return nil, err
		}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Color = st.c
			lb.TextStyle[i].Font.Size = vg.Points(9)
		}
		over.Add(s, lb)
		over.Legend.Add(mode, s)
	}
	over.Legend.Top = true
	padAxes(over)
	over.X.Max += (over.X.Max - over.X.Min) * 0.15 // room for the task names
	panels = append(panels, over)
	return panels, nil
}

func modesOf(points []Point) []string {
	var ms []string
	for _, p := range points {
		if !slices.Contains(ms, p.Mode) {
			ms = append(ms, p.Mode)
		}
	}
	sort.Strings(ms)
	return ms
}

func addModePoints(p *plot.Plot, pts []Point) error {
	for _, mode := range modesOf(pts) {
		var ep errPoints
		for _, pt := range pts {
			if pt.Mode != mode {
				continue
			}
			a := pt.Results.Accuracy
			ep.XYs = append(ep.XYs, plotter.XY{X: pt.PPL, Y: a.Mean})
			ep.YErrors = append(ep.YErrors, struct{ Low, High float64 }{a.Mean - a.Min, a.Max - a.Mean})
		}
		st := modeStyle(mode)
		s, err := plotter.NewScatter(ep.XYs)
		if err != nil {
			return err
		}
		s.GlyphStyle.Color, s.GlyphStyle.Shape, s.GlyphStyle.Radius = st.c, st.glyph, vg.Points(4)
		eb, err := plotter.NewYErrorBars(ep)
		if err != nil {
			return err
		}
		eb.LineStyle.Color, eb.LineStyle.Width = st.c, vg.Points(1.2)
		p.Add(eb, s)
		p.Legend.Add(mode, s)
	}
	p.Legend.Top = true
	padAxes(p)
	return nil
}

// padAxes widens the data range by 10% so points and error bars are not on
// the frame.
func padAxes(p *plot.Plot) {
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		lo, hi := ax.Min, ax.Max
		d := hi - lo
		if d <= 0 || math.IsInf(d, 0) || math.IsNaN(d) {
			d = math.Max(math.Abs(hi)*0.05, 0.01)
		}
		ax.Min, ax.Max = lo-0.1*d, hi+0.1*d
		ax.Tick.Marker = preciseTicks{}
	}
	p.Y.Max += (p.Y.Max - p.Y.Min) * 0.25 // room for the legend above the data
}

// preciseTicks are gonum's default ticks labelled with as many decimals as
// their spacing needs, so close values never print the same label.
type preciseTicks struct{}

// Ticks implements plot.Ticker.
func (preciseTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	var major []float64
	for _, t := range ts {
		if t.Label != "" {
			major = append(major, t.Value)
		}
	}
	// Enough decimals for the step and for every labelled value: ticks at
	// 3.75, 3.85 with a step of 0.1 need two, else 3.75 prints as "3.8".
	exact := func(v float64, dec int) bool {
		x := v * math.Pow(10, float64(dec))
		return math.Abs(x-math.Round(x)) <= 1e-6*math.Max(1, math.Abs(x))
	}
	dec := 0
	if len(major) > 1 {
		major = append(major, math.Abs(major[1]-major[0]))
	}
	for _, v := range major {
		for dec < 8 && !exact(v, dec) {
			dec++
		}
	}
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', dec, 64)
		}
	}
	return ts
}

// LearningCurves overlays the runs' train loss (thin line) and valid loss
// (line with glyphs) against training tokens, coloured by mode.
func LearningCurves(curves []Curve) (*plot.Plot, error) {
	p := newPlot("Learning curves", "training tokens (millions; fine-tuning continues after its backbone's)", "loss (nats per token; MDLM: NELBO bound, MLM: masked CE)")
	for _, c := range curves {
		st := modeStyle(c.Mode)
		name := c.Name
		if c.Mode != "" && c.Mode != c.Name {
			name = fmt.Sprintf("%s (%s)", c.Name, c.Mode)
		}
		if c.From != "" {
			name += " from " + c.From
		}
		if len(c.Train) > 0 {
			l, err := plotter.NewLine(smooth(c.Train, 10))
			if err != nil {
				return nil, err
			}
			l.LineStyle.Color, l.LineStyle.Width, l.LineStyle.Dashes = faded(st.c), vg.Points(1), st.dash
			p.Add(l)
			p.Legend.Add(name+" train (running mean of 10 steps)", l)
		}
		if len(c.Valid) > 0 {
			l, s, err := plotter.NewLinePoints(toXYs(c.Valid))
			if err != nil {
				return nil, err
			}
			l.LineStyle.Color, l.LineStyle.Width, l.LineStyle.Dashes = st.c, vg.Points(2), st.dash
			s.GlyphStyle.Color, s.GlyphStyle.Shape, s.GlyphStyle.Radius = st.c, st.glyph, vg.Points(3)
			p.Add(l, s)
			p.Legend.Add(name+" valid", l, s)
		}
	}
	p.Legend.Top = true
	p.X.Tick.Marker = preciseTicks{}
	// The y range leaves out the first 5% of each run's train points (the
	// steep start of a fresh run would squash the rest); lines are clipped.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range curves {
		for i, v := range c.Train {
			lo = math.Min(lo, v[1])
			if i >= len(c.Train)/20 {
				hi = math.Max(hi, v[1])
			}
		}
		for _, v := range c.Valid {
			lo, hi = math.Min(lo, v[1]), math.Max(hi, v[1])
		}
	}
	if hi > lo {
		p.Y.Min, p.Y.Max = lo-0.05*(hi-lo), hi+0.05*(hi-lo)
	}
	// Headroom above the curves for the legend (two lines per run).
	if d := p.Y.Max - p.Y.Min; d > 0 {
		p.Y.Max += d * 0.12 * float64(min(2*len(curves), 8))
	}
	p.Y.Tick.Marker = preciseTicks{}
	return p, nil
}

func faded(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	mix := func(v uint32) uint8 { return uint8((v>>8)/2 + 127) }
	return color.RGBA{mix(r), mix(g), mix(b), 255}
}

func toXYs(pts [][2]float64) plotter.XYs {
	xy := make(plotter.XYs, len(pts))
	for i, v := range pts {
		xy[i] = plotter.XY{X: v[0] / 1e6, Y: v[1]}
	}
	return xy
}

// smooth is a trailing running mean over w points.
func smooth(pts [][2]float64, w int) plotter.XYs {
	xy := make(plotter.XYs, len(pts))
	s := 0.0
	for i, v := range pts {
		s += v[1]
		if i >= w {
			s -= pts[i-w][1]
		}
		xy[i] = plotter.XY{X: v[0] / 1e6, Y: s / float64(min(i+1, w))}
	}
	return xy
}

// samplerStyles are the MDLM samplers' line styles.
var samplerStyles = map[string]style{
	train.SamplerDDPM:         modeStyle("mdlm"),
	train.SamplerDDPMCache:    {color.RGBA{86, 180, 233, 255}, draw.RingGlyph{}, []vg.Length{vg.Points(4), vg.Points(2)}},
	train.SamplerFirstHitting: {color.RGBA{0, 158, 115, 255}, draw.BoxGlyph{}, []vg.Length{vg.Points(2), vg.Points(2)}},
	train.SamplerTopK:         {color.RGBA{204, 121, 167, 255}, draw.PyramidGlyph{}, []vg.Length{vg.Points(6), vg.Points(2)}},
}

// samplerSeries groups timings by MDLM sampler (a topk_confidence line per
// reveal schedule) as points (x, y) sorted by x; AR's timings are returned
// apart. Rows where x or y is not positive are left out.
func samplerSeries(rows []train.SampleTiming, x, y func(train.SampleTiming) float64) (map[string]plotter.XYs, []train.SampleTiming) {
	by := map[string]plotter.XYs{}
	var ar []train.SampleTiming
	for _, r := range rows {
		if r.Sampler == train.SamplerARKV {
			ar = append(ar, r)
			continue
		}
		if r.Sampler == train.SamplerReal || !(x(r) > 0) || !(y(r) > 0) {
			continue
		}
		name := r.Sampler
		if r.Sampler == train.SamplerTopK && r.Reveal != "" {
			name += " (" + r.Reveal + ")"
		}
		if r.ConfidenceNoise > 0 {
			name += fmt.Sprintf(" noise %g", r.ConfidenceNoise)
		}
		by[name] = append(by[name], plotter.XY{X: x(r), Y: y(r)})
	}
	for _, xy := range by {
		sort.Slice(xy, func(i, j int) bool { return xy[i].X < xy[j].X })
	}
	return by, ar
}

// addSeries draws each sampler's line, in name order.
func addSeries(p *plot.Plot, by map[string]plotter.XYs) error {
	names := make([]string, 0, len(by))
	for k := range by {
		names = append(names, k)
	}
	sort.Strings(names)
	seen := map[string]int{} // variants of one sampler (reveal, noise) get shades of its colour
	for _, n := range names {
		base := strings.Fields(n)[0]
		st, ok := samplerStyles[base]
		if !ok {
			st = modeStyle("")
		}
		if k := seen[base]; k > 0 {
			c := color.RGBAModel.Convert(st.c).(color.RGBA)
			f := 1 - 0.22*float64(k)
			st.c = color.RGBA{uint8(float64(c.R) * f), uint8(float64(c.G) * f), uint8(float64(c.B) * f), 255}
			st.dash = []vg.Length{vg.Points(float64(2 + 2*k)), vg.Points(2)}
		}
		seen[base]++
		l, s, err := plotter.NewLinePoints(by[n])
		if err != nil {
			return err
		}
		l.LineStyle.Color, l.LineStyle.Width, l.LineStyle.Dashes = st.c, vg.Points(2), st.dash
		s.GlyphStyle.Color, s.GlyphStyle.Shape, s.GlyphStyle.Radius = st.c, st.glyph, vg.Points(3.5)
		p.Add(l, s)
		p.Legend.Add("MDLM "+n, l, s)
	}
	return nil
}

// SamplingSpeed is generated tokens per second against model calls (NFE)
// for each MDLM sampler, log-log (ddpm's calls are about its steps T,
// first_hitting's one per k revealed tokens); AR, whose decoder steps are
// cheap KV-cache calls, is a horizontal line at its speed.
func SamplingSpeed(rows []train.SampleTiming) (*plot.Plot, error) {
	title := "Sampling speed"
	if len(rows) > 0 {
		title = fmt.Sprintf("Sampling speed (%d sequences x %d tokens)", rows[0].N, rows[0].Len)
	}
	p := newPlot(title, "MDLM model calls", "generated tokens per second")
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	by, ar := samplerSeries(rows, func(r train.SampleTiming) float64 { return float64(r.Calls) }, func(r train.SampleTiming) float64 { return r.TokensPerS })
	if err := addSeries(p, by); err != nil {
		return nil, err
	}
	minS, maxS := math.Inf(1), math.Inf(-1)
	for _, xy := range by {
		minS, maxS = math.Min(minS, xy[0].X), math.Max(maxS, xy[len(xy)-1].X)
	}
	var v float64
	for _, r := range ar {
		v += r.TokensPerS / float64(len(ar))
	}
	if v > 0 && !math.IsInf(minS, 1) {
		st := modeStyle("ar")
		l, s, err := plotter.NewLinePoints(plotter.XYs{{X: minS, Y: v}, {X: maxS, Y: v}})
		if err != nil {
			return nil, err
		}
		l.LineStyle.Color, l.LineStyle.Width, l.LineStyle.Dashes = st.c, vg.Points(2), st.dash
		s.GlyphStyle.Color, s.GlyphStyle.Shape, s.GlyphStyle.Radius = st.c, st.glyph, vg.Points(3.5)
		p.Add(l, s)
		p.Legend.Add("AR, KV cache (one step per token)", l, s)
	}
	p.Legend.Top = true
	padLog(p)
	return p, nil
}

// hasQuality reports whether any timing carries k-mer JS.
func hasQuality(rows []train.SampleTiming) bool {
	for _, r := range rows {
		if len(r.KmerJS) > 0 {
			return true
		}
	}
	return false
}

// SampleQuality is the k-mer spectrum JS of each setting's samples against
// real windows (lower is better) against generated tokens per second, one
// line per MDLM sampler, AR's point on the same axes, and the real-vs-real
// floor (the JS two sets of real windows of this size have) as a
// horizontal line.
func SampleQuality(rows []train.SampleTiming, k int) (*plot.Plot, error) {
	title := fmt.Sprintf("Sample quality against speed (%d-mer JS)", k)
	if len(rows) > 0 {
		title = fmt.Sprintf("Sample quality against speed (%d-mer JS, %d x %d)", k, rows[0].N, rows[0].Len)
	}
	p := newPlot(title, "generated tokens per second", fmt.Sprintf("%d-mer spectrum JS to real windows (bits)", k))
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	js := func(r train.SampleTiming) float64 { return r.KmerJS[k] }
	by, ar := samplerSeries(rows, func(r train.SampleTiming) float64 { return r.TokensPerS }, js)
	if err := addSeries(p, by); err != nil {
		return nil, err
	}
	var arXY plotter.XYs
	for _, r := range ar {
		if r.TokensPerS > 0 && js(r) > 0 {
			arXY = append(arXY, plotter.XY{X: r.TokensPerS, Y: js(r)})
		}
	}
	if len(arXY) > 0 {
		st := modeStyle("ar")
		s, err := plotter.NewScatter(arXY)
		if err != nil {
			return nil, err
		}
		s.GlyphStyle.Color, s.GlyphStyle.Shape, s.GlyphStyle.Radius = st.c, st.glyph, vg.Points(5)
		p.Add(s)
		p.Legend.Add("AR, KV cache", s)
	}
	for _, r := range rows {
		if r.Sampler != train.SamplerReal || !(js(r) > 0) {
			continue
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, q := range rows {
			if q.TokensPerS > 0 {
				lo, hi = math.Min(lo, q.TokensPerS), math.Max(hi, q.TokensPerS)
			}
		}
		if math.IsInf(lo, 1) {
			break
		}
		l, err := plotter.NewLine(plotter.XYs{{X: lo, Y: js(r)}, {X: hi, Y: js(r)}})
		if err != nil {
			return nil, err
		}
		l.LineStyle.Color, l.LineStyle.Width, l.LineStyle.Dashes = color.Gray{Y: 100}, vg.Points(1.5), []vg.Length{vg.Points(2), vg.Points(3)}
		p.Add(l)
		p.Legend.Add("real vs real windows (floor)", l)
	}
	p.Legend.Top = true
	return p, nil
}

// padLog widens log axes by a factor so the extreme points clear the frame.
func padLog(p *plot.Plot) {
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		if ax.Min > 0 {
			ax.Min /= 1.5
			ax.Max *= 1.5
		}
	}
	p.Y.Max *= 3 // room for the legend above the data
}

// saveTiled draws panels in a grid of cols columns and writes base.png and
// base.svg atomically.
func saveTiled(panels []*plot.Plot, cols int, base string) ([]string, error) {
	rows := (len(panels) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
		for j := range cols {
			if k := i*cols + j; k < len(panels) {
				grid[i][j] = panels[k]
			}
		}
	}
	w, h := vg.Length(cols)*6.5*vg.Inch, vg.Length(rows)*4.8*vg.Inch
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 6,
		PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 4}
	drawAll := func(c draw.Canvas) {
		cs := plot.Align(grid, tiles, c)
		for i := range grid {
			for j := range grid[i] {
				if grid[i][j] != nil {
					grid[i][j].Draw(cs[i][j])
				}
			}
		}
	}
	var files []string
	png := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110), vgimg.UseBackgroundColor(color.White))
	drawAll(draw.New(png))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: png}).WriteTo(&buf); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(base+".png", buf.Bytes()); err != nil {
		return nil, err
	}
	files = append(files, base+".png")
	svg := vgsvg.New(w, h)
	drawAll(draw.New(svg))
	buf.Reset()
	if _, err := svg.WriteTo(&buf); err != nil {
		return files, err
	}
	if err := atomicfile.WriteFile(base+".svg", buf.Bytes()); err != nil {
		return files, err
	}
	return append(files, base+".svg"), nil
}
