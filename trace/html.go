package trace

import (
	"fmt"
	"html"
	"io"

	"github.com/kernelsim/lfsim/sim"
)

// Page is what a timeline page says about the run it draws.
type Page struct {
	Title   string // the scenario and its values
	Failure string // the failure, said in full; "" for a clean run
	CPUs    int
}

// Sizes of the drawing, in pixels.
const (
	rowH    = 36 // one level of a CPU's stack: its events, its context, its operations
	laneGap = 12
	axisH   = 28
	labelW  = 96
)

// stepWidth is the width of a step: narrower for long runs, so that a
// page of 10,000 steps stays one that a browser scrolls through.
func stepWidth(steps int) int {
	if steps > 4000 {
		return 8
	}
	return 12
}

// HTML writes a self-contained page (no network, no script libraries)
// with the run's timeline: a lane per CPU with its task, softirq and
// hardirq frames stacked as the kernel stacks them, the operations of
// the code under test inside them with their arguments and results,
// every event at its step with its value and source line on hover, and
// the failing step marked, where the page opens.
func HTML(w io.Writer, events []sim.Event, p Page) error {
	tl := newTimeline(events, p.CPUs)
	px := stepWidth(tl.steps)
	x := func(step int) int { return step * px }
	width := x(tl.steps+2) + px
	laneH := levels*rowH + laneGap
	height := axisH + p.CPUs*laneH
	y := func(cpu, level int) int { return axisH + cpu*laneH + (levels-1-level)*rowH }

	ew := &errWriter{w: w}
	out := func(format string, args ...any) {
		if ew.err == nil {
			_, ew.err = fmt.Fprintf(ew.w, format, args...)
		}
	}
	esc := html.EscapeString
	out("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>%s</title>\n<style>%s</style></head>\n<body>\n", esc("lfsim: "+p.Title), pageStyle)
	out("<header><h1>%s</h1>\n", esc(p.Title))
	if p.Failure != "" {
		out("<p class=\"verdict fail\">FAIL at step %d: %s <button id=\"to-failure\" type=\"button\">show the failing step</button></p>\n", failStep(tl), esc(p.Failure))
	} else {
		out("<p class=\"verdict pass\">the run completes without failure</p>\n")
	}
	out("<p class=\"legend\">%d steps on %d CPUs. Each lane is a CPU: task context at the bottom, a softirq above the task it runs over, a hardirq above that. "+
		"Bars under a context are the calls of the code under test, with their results. Each tick is one event; hover over it for its step, value and source line.</p>\n", tl.steps, p.CPUs)
	out("<p class=\"legend\"><span class=\"key task\"></span>task <span class=\"key softirq\"></span>softirq <span class=\"key hardirq\"></span>hardirq <span class=\"key op\"></span>call <span class=\"key failure\"></span>failure</p></header>\n")

	out("<main><div class=\"labels\"><svg width=\"%d\" height=\"%d\">", labelW, height)
	for c := range p.CPUs {
		out("<text x=\"6\" y=\"%d\" class=\"cpu\">CPU%d</text>", axisH+c*laneH+levels*rowH/2+5, c)
	}
	out("</svg></div>\n<div class=\"scroll\" id=\"scroll\"><svg id=\"timeline\" width=\"%d\" height=\"%d\" data-steps=\"%d\">\n", width, height, tl.steps)

	// The step axis, with a tick far enough apart to read.
	every := 1
	for every*px < 60 {
		every = nextTick(every)
	}
	for s := 0; s <= tl.steps; s += every {
		out("<line class=\"tick\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/><text class=\"axis\" x=\"%d\" y=\"16\">#%d</text>\n", x(s), axisH-6, x(s), height, x(s)+2, s)
	}
	for c := range p.CPUs {
		out("<g class=\"lane\" data-cpu=\"%d\"><rect class=\"lanebg\" x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\"/></g>\n", c, axisH+c*laneH, width, levels*rowH)
	}
	for _, s := range tl.spans {
		x0, w := x(s.from)-px/2, max(x(s.to)-x(s.from)+px, px)
		if s.op {
			label := s.name
			switch {
			case !s.returned:
				label += " (not returned)"
			case s.result != "":
				label += " -> " + s.result
			}
			steps := fmt.Sprintf("#%d", s.from)
			if s.to > s.from {
				steps = fmt.Sprintf("#%d-%d", s.from, s.to)
			}
			// A bar where its context runs; a line where it is in flight
			// while its task is preempted.
			yo := y(s.cpu, s.level) + 22
			out("<g class=\"op\"><title>%s\n%s, %s</title><line class=\"flight\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", esc(label), esc(steps), esc(s.ctx), x0, yo+6, x0+w, yo+6)
			labelled := false
			for _, seg := range tl.running(s) {
				sx, sw := x(seg[0])-px/2, x(seg[1])-x(seg[0])+px
				out("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"13\" rx=\"3\"/>", sx, yo, sw)
				if t := fitText(label, sx+3, yo+10, sw); t != "" && !labelled {
					out("%s", t)
					labelled = true
				}
			}
			out("</g>\n")
			continue
		}
		kind := [...]string{"task", "softirq", "hardirq"}[s.level]
		out("<g class=\"ctx %s\"><title>%s, #%d-%d</title><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"13\"/>%s</g>\n",
			kind, esc(s.name), s.from, s.to, x0, y(s.cpu, s.level)+8, w, fitText(s.name, x0+3, y(s.cpu, s.level)+18, w))
	}
	for _, m := range tl.marks {
		title := fmt.Sprintf("#%d CPU%d %s\n%s", m.step, m.cpu, m.ctx, m.text)
		if m.source != "" {
			title += "\n" + m.source
		}
		out("<rect class=\"ev %s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"7\"><title>%s</title></rect>\n", m.kind, x(m.step)-px/4, y(m.cpu, m.level), max(px/2, 2), esc(title))
	}
	if f := tl.fail; f != nil {
		out("<g id=\"failure\" class=\"failure\" data-step=\"%d\"><title>%s</title><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", f.step, esc(f.text), x(f.step), axisH-6, x(f.step), height)
		if f.cpu >= 0 {
			out("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"21\"/>", x(f.step)-px/2, y(f.cpu, f.level), px)
		}
		out("<text x=\"%d\" y=\"%d\">FAIL #%d</text></g>\n", x(f.step)+4, axisH-8, f.step)
	}
	out("</svg></div></main>\n<script>%s</script>\n</body></html>\n", pageScript)
	return ew.err
}

func failStep(tl *timeline) int {
	if tl.fail == nil {
		return 0
	}
	return tl.fail.step
}

// nextTick is the next of 1, 2, 5, 10, 20, 50, ...
func nextTick(n int) int {
	switch s := fmt.Sprint(n); s[0] {
	case '1':
		return n * 2
	case '2':
		return n / 2 * 5
	default:
		return n * 2
	}
}

// fitText is an SVG label cut to the room it has, or nothing when there
// is too little room for a word (the hover title says it all).
func fitText(s string, x, y, w int) string {
	room := (w - 6) / 6 // about 6 pixels a character at the page's size
	if room < 3 {
		return ""
	}
	if len(s) > room {
		s = s[:room-1] + "…"
	}
	return fmt.Sprintf("<text x=\"%d\" y=\"%d\">%s</text>", x, y, html.EscapeString(s))
}

const pageStyle = `
body { font: 13px/1.4 system-ui, sans-serif; margin: 0; color: #1d2430; }
header { padding: 8px 16px; border-bottom: 1px solid #ccd; }
h1 { font-size: 16px; margin: 4px 0; font-family: ui-monospace, monospace; }
.verdict.fail { color: #a10d0d; font-weight: 600; }
.verdict.pass { color: #17631f; font-weight: 600; }
.legend { margin: 4px 0; color: #444; }
.key { display: inline-block; width: 14px; height: 10px; margin: 0 4px 0 10px; border: 1px solid #667; }
.key.task, .ctx.task rect { fill: #cfe0f7; background: #cfe0f7; }
.key.softirq, .ctx.softirq rect { fill: #f9e2b8; background: #f9e2b8; }
.key.hardirq, .ctx.hardirq rect { fill: #f6c6c6; background: #f6c6c6; }
.key.op, .op rect { fill: #d9f2d4; background: #d9f2d4; }
.key.failure { background: #d11; }
main { display: flex; }
.labels { flex: none; border-right: 1px solid #ccd; }
.scroll { overflow-x: auto; overflow-y: hidden; flex: 1; }
svg text { font: 11px ui-monospace, monospace; fill: #1d2430; pointer-events: none; }
text.cpu { font-size: 13px; font-weight: 600; }
text.axis { fill: #667; }
.tick { stroke: #e4e6ee; }
.lanebg { fill: #fafbfd; stroke: #dde; }
.ctx rect, .op rect { stroke: #8894aa; stroke-width: 0.5; }
.op .flight { stroke: #6c9a63; stroke-dasharray: 3 3; }
.ev { fill: #3b4b66; }
.ev.switch, .ev.irq, .ev.softirq, .ev.start, .ev.exit, .ev.irq_exit { fill: #8a56c2; }
.ev.note { fill: #1f8a70; }
.ev:hover, .op:hover rect, .ctx:hover rect { stroke: #000; stroke-width: 1.5; }
.failure line { stroke: #d11; stroke-width: 2; }
.failure rect { fill: #d11; }
.failure text { fill: #d11; font-weight: 600; }
`

// pageScript opens the page on the failure (and goes back to it on
// request) and says what it drew.
const pageScript = `
(function () {
  var scroll = document.getElementById('scroll');
  var fail = document.getElementById('failure');
  var button = document.getElementById('to-failure');
  function toFailure() {
    var step = Number(fail.getAttribute('data-step'));
    var svg = document.getElementById('timeline');
    var px = svg.width.baseVal.value / (Number(svg.getAttribute('data-steps')) + 3);
    scroll.scrollLeft = Math.max(0, step * px - scroll.clientWidth * 2 / 3);
  }
  if (fail) {
    // The page opens on the failure, with what led to it on its left.
    toFailure();
    document.body.setAttribute('data-shows-step', fail.getAttribute('data-step'));
    if (button) {
      button.addEventListener('click', toFailure);
    }
  }
  // What the browser test reads: the lanes drawn, and whether the
  // timeline scrolls when it is wider than the window.
  document.body.setAttribute('data-lanes', String(document.querySelectorAll('g.lane').length));
  document.body.setAttribute('data-scrolls', String(scroll.scrollWidth > scroll.clientWidth));
})();
`
