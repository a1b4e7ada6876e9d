package simrun

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kernelsim/lfsim/explore"
)

// progress shows a live line (runs, steps/s, elapsed) on a terminal once
// an exploration has taken more than a second.
type progress struct {
	w     io.Writer
	on    bool
	start time.Time
	last  time.Time
	shown bool
}

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok && !quiet {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) update(s explore.Stats) {
	if !p.on || s.Elapsed < time.Second {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 250*time.Millisecond {
		return
	}
	p.last, p.shown = now, true
	fmt.Fprintf(p.w, "\r%d runs  %s steps/s  %v elapsed ", s.Runs, rate(s.Steps, s.Elapsed), s.Elapsed.Round(time.Second))
}

func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// line shows a progress line, at most four times a second, once the
// command has run for a second.
func (p *progress) line(format string, args ...any) {
	if !p.on || time.Since(p.start) < time.Second {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 250*time.Millisecond {
		return
	}
	p.last, p.shown = now, true
	fmt.Fprintf(p.w, "\r"+format+" %v elapsed ", append(args, now.Sub(p.start).Round(time.Second))...)
}

// note shows what is being done now, on a terminal.
func (p *progress) note(s string) {
	if !p.on {
		return
	}
	p.shown = true
	fmt.Fprintf(p.w, "\r\033[K%s (%v elapsed)", s, time.Since(p.start).Round(time.Second))
}
