package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// manualClock is a host whose watchdog ticks only when the test says so.
// A send on ticks returns once the watchdog has taken the tick, and the
// next send once it has dealt with it, so no test here waits on real time.
func manualClock(t *testing.T) (*Host, chan time.Time) {
	h := NewHost()
	ticks := make(chan time.Time)
	h.newTicker = func(time.Duration) (<-chan time.Time, func()) { return ticks, func() {} }
	t.Cleanup(h.Close)
	return h, ticks
}

// runAsync runs m on its own goroutine: the test's goroutine feeds ticks.
func runAsync(m *Machine, s Strategy) <-chan Result {
	res := make(chan Result, 1)
	go func() { res <- m.Run(s) }()
	return res
}

// tickUntil sends ticks until the run returns, and counts them.
func tickUntil(ticks chan<- time.Time, res <-chan Result) (Result, int) {
	for n := 0; ; n++ {
		select {
		case ticks <- time.Time{}:
		case r := <-res:
			return r, n
		}
	}
}

// Simulated code that stays between two scheduling points is reported by
// the watchdog after a Watchdog's worth of ticks (the first tick that sees
// it starts the count), the run returns, and its goroutines unwind once
// the code reaches its next scheduling point.
func TestWatchdogReportsCodeStuckBetweenPointsGolden(t *testing.T) {
	h, ticks := manualClock(t)
	entered, release := make(chan struct{}), make(chan struct{})
	m := build(t, Config{CPUs: 1, Watchdog: time.Second, Host: h, Trace: true}, func(m *Machine) {
		x := m.NewCell("x", W32, 0)
		m.Go("stuck", 0, func(c *Ctx) {
			c.WriteOnce(x, 1)
			close(entered)
			<-release // a loop that never reaches a scheduling point
			c.WriteOnce(x, 2)
		})
	})
	res := runAsync(m, NewRandom(1))
	<-entered
	r, n := tickUntil(ticks, res)
	assert.Equal(t, 5, n, "one tick to see the stretch, four to time it")
	require.NotNil(t, r.Failure)
	assert.Equal(t, KindWatchdog, r.Failure.Kind)
	assert.Equal(t, "simulated code ran for 1s of host time without reaching a scheduling point after step 3 in task stuck (a judgement of host time, not a verdict on the schedule)", r.Failure.Message)
	assert.Equal(t, 3, r.Steps)
	assert.Len(t, r.Decisions, 3, "schedule, start, WRITE_ONCE")
	require.NotEmpty(t, r.Trace)
	assert.Equal(t, "FAIL watchdog: "+r.Failure.Message, r.Trace[len(r.Trace)-1].Text(), "the trace up to the stuck code")
	close(release)
	goleak.VerifyNone(t) // retries until the unwound goroutines are gone
}

// slowStrategy stands for any slow bookkeeping of the simulator between
// two scheduling points (strategy, trace recording, slice growth): at
// decision number at it says so and waits until it is released.
type slowStrategy struct {
	Strategy
	at, n            int
	blocked, release chan struct{}
}

func (s *slowStrategy) Choose(m *Machine, moves []Move) (int, error) {
	if s.n++; s.n == s.at {
		close(s.blocked)
		<-s.release
	}
	return s.Strategy.Choose(m, moves)
}

// However long the simulator itself takes between scheduling points, the
// watchdog does not count it: the run completes exactly as without delay.
func TestWatchdogIgnoresSimulatorBookkeeping(t *testing.T) {
	want := busyMachine(t, true).Run(NewRandom(7))
	require.Nil(t, want.Failure)
	h, ticks := manualClock(t)
	s := &slowStrategy{Strategy: NewRandom(7), at: 20, blocked: make(chan struct{}), release: make(chan struct{})}
	res := runAsync(busyMachineWith(t, Config{CPUs: 2, Trace: true, Watchdog: time.Second, Host: h}), s)
	<-s.blocked
	for range 100 { // 25 watchdogs' worth
		ticks <- time.Time{}
	}
	close(s.release)
	r := <-res
	assert.Nil(t, r.Failure)
	assert.Equal(t, want.Decisions, r.Decisions)
	assert.Equal(t, renderTrace(t, want), renderTrace(t, r))
}

// Each scheduling point starts a new stretch: simulated code that takes
// most of a Watchdog between every two points is never reported.
func TestWatchdogRestartsAtEverySchedulingPoint(t *testing.T) {
	h, ticks := manualClock(t)
	m := build(t, Config{CPUs: 1, Watchdog: time.Second, Host: h}, func(m *Machine) {
		x := m.NewCell("x", W32, 0)
		m.Go("slow", 0, func(c *Ctx) {
			for i := range 50 {
				// The watchdog looks at the run after taking a tick, so
				// the previous stretch's last tick may see this one too:
				// four looks at most, three timing it.
				for range 3 {
					ticks <- time.Time{}
				}
				c.WriteOnce(x, uint64(i))
			}
		})
	})
	r := m.Run(NewRandom(1))
	assert.Nil(t, r.Failure)
	assert.Equal(t, 52, r.Steps, "schedule, start and 50 stores")
}

// In a batch (Host.Do), the watchdog watches whichever run is going on: it
// reports the stuck one, the batch goes no further, and the host runs the
// next batch on a fresh driver.
func TestDoReportsTheRunTheWatchdogGaveUpOn(t *testing.T) {
	h, ticks := manualClock(t)
	entered, release := make(chan struct{}), make(chan struct{})
	fine := func() *Machine {
		return build(t, Config{CPUs: 1, Watchdog: time.Second, Host: h}, func(m *Machine) {
			x := m.NewCell("x", W32, 0)
			m.Go("t", 0, func(c *Ctx) { c.WriteOnce(x, 1) })
		})
	}
	stuck := build(t, Config{CPUs: 1, Watchdog: time.Second, Host: h}, func(m *Machine) {
		x := m.NewCell("x", W32, 0)
		m.Go("stuck", 0, func(c *Ctx) {
			c.WriteOnce(x, 1)
			close(entered)
			<-release
			c.WriteOnce(x, 2)
		})
	})
	var ran []string
	done := make(chan *Result, 1)
	go func() {
		done <- h.Do(func() {
			ran = append(ran, "first", fmt.Sprint(fine().Run(NewRandom(1)).Failure))
			r := stuck.Run(NewRandom(1))
			ran = append(ran, "after the stuck run: "+fmt.Sprint(r.Failure))
		})
	}()
	<-entered
	var res *Result
	for res == nil {
		select {
		case ticks <- time.Time{}:
		case res = <-done:
		}
	}
	require.NotNil(t, res.Failure)
	assert.Equal(t, KindWatchdog, res.Failure.Kind)
	assert.Equal(t, 3, res.Steps)
	assert.Equal(t, []string{"first", "<nil>"}, ran, "the batch went no further than the stuck run")
	close(release)

	// The next batch runs on a fresh driver, inline.
	var again Result
	assert.Nil(t, h.Do(func() { again = fine().Run(NewRandom(2)) }))
	assert.Nil(t, again.Failure)
	assert.Equal(t, []string{"first", "<nil>"}, ran)
	h.Close()
	goleak.VerifyNone(t) // the stuck driver unwound too
}
