// Package schedule reads and writes schedule files: a run's scenario, every
// parameter, the machine settings and every decision, in a small versioned
// text file from which the identical run can be rebuilt with no other
// input. The last line holds a CRC-32 of everything above it, so a
// truncated or edited file is recognised as such.
//
// A file looks like this:
//
//	simrun-schedule 1
//	scenario ring2005
//	param cpus=2
//	param ring=8
//	max-steps 200000
//	found-by random seed=1 run=0
//	failure panic 248 "Tail pointer must be null"
//	failure-site ring2005/ring.go:79
//	decisions 248
//	w1:reader/1 s1*3 i0:nic s0 ...
//	crc32 5c1e0a2f
//
// Decisions are the machine's move tokens ("s0" step CPU0, "w1:reader/1"
// switch CPU1 to a task, "i0:nic" fire an interrupt), with "tok*N" for N
// equal decisions in a row.
package schedule

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// Magic is the first word of every schedule file; Version is the format
// version this package writes and reads.
const (
	Magic   = "simrun-schedule"
	Version = 1
)

// MaxDecisions bounds what a file may hold, so that a corrupt count cannot
// make the reader allocate without limit; it is also the largest step
// budget simrun accepts.
const MaxDecisions = 10_000_000

// Failure is the failure a schedule was recorded with.
type Failure struct {
	Kind    string
	Step    int
	Message string
	// Site is where it was detected (sim.Failure.Site): with the kind, the
	// failure's identity, which a replay must match. Files written before
	// sites were recorded have none and are matched by kind and message.
	Site string
}

// File is one schedule.
type File struct {
	Scenario string
	// Params are "key=value", in the scenario's order.
	Params   []string
	MaxSteps int
	// FoundBy says how the schedule was found ("random seed=1 run=3");
	// it is for people and plays no part in replay.
	FoundBy   string
	Failure   *Failure
	Decisions []string
}

// Encode writes f in the file format.
func (f *File) Encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %d\n", Magic, Version)
	fmt.Fprintf(&b, "scenario %s\n", f.Scenario)
	for _, p := range f.Params {
		fmt.Fprintf(&b, "param %s\n", p)
	}
	fmt.Fprintf(&b, "max-steps %d\n", f.MaxSteps)
	if f.FoundBy != "" {
		fmt.Fprintf(&b, "found-by %s\n", f.FoundBy)
	}
	if f.Failure != nil {
		fmt.Fprintf(&b, "failure %s %d %s\n", f.Failure.Kind, f.Failure.Step, strconv.Quote(f.Failure.Message))
		if f.Failure.Site != "" {
			fmt.Fprintf(&b, "failure-site %s\n", f.Failure.Site)
		}
	}
	fmt.Fprintf(&b, "decisions %d\n", len(f.Decisions))
	const lineLen = 100
	n := 0
	for i := 0; i < len(f.Decisions); {
		j := i + 1
		for j < len(f.Decisions) && f.Decisions[j] == f.Decisions[i] {
			j++
		}
		tok := f.Decisions[i]
		if j-i > 1 {
			tok += "*" + strconv.Itoa(j-i)
		}
		if n > 0 && n+1+len(tok) > lineLen {
			b.WriteByte('\n')
			n = 0
		} else if n > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(tok)
		n += len(tok)
		i = j
	}
	if n > 0 {
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "crc32 %08x\n", crc32.ChecksumIEEE(b.Bytes()))
	return b.Bytes()
}

// ErrNotSchedule is returned for input that is not a schedule file at all.
var ErrNotSchedule = errors.New("not a simrun schedule file")

// Decode reads a schedule file. Every error says in one line what is
// wrong and where.
func Decode(data []byte) (*File, error) {
	if !bytes.HasPrefix(data, []byte(Magic+" ")) {
		return nil, ErrNotSchedule
	}
	body, sum, err := splitChecksum(data)
	if err != nil {
		return nil, err
	}
	if got := crc32.ChecksumIEEE(body); got != sum {
		return nil, fmt.Errorf("corrupt schedule file: checksum %08x does not match its contents (%08x)", sum, got)
	}
	f := &File{MaxSteps: -1}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, len(body)+1)
	line := 0
	want := -1
	for sc.Scan() {
		line++
		text := sc.Text()
		if want >= 0 {
			if err := f.addDecisions(text, want); err != nil {
				return nil, fmt.Errorf("schedule file line %d: %w", line, err)
			}
			continue
		}
		key, rest, _ := strings.Cut(text, " ")
		if line == 1 {
			if rest != strconv.Itoa(Version) {
				return nil, fmt.Errorf("schedule file version %q: this simrun reads version %d", rest, Version)
			}
			continue
		}
		if err := f.header(key, rest, &want); err != nil {
			return nil, fmt.Errorf("schedule file line %d: %w", line, err)
		}
	}
	switch {
	case f.Scenario == "":
		return nil, errors.New("schedule file names no scenario")
	case f.MaxSteps < 0:
		return nil, errors.New("schedule file has no max-steps line")
	case want < 0:
		return nil, errors.New("schedule file has no decisions line")
	case len(f.Decisions) != want:
		return nil, fmt.Errorf("schedule file declares %d decisions but holds %d", want, len(f.Decisions))
	}
	return f, nil
}

// splitChecksum separates the final "crc32 xxxxxxxx" line from the body.
func splitChecksum(data []byte) ([]byte, uint32, error) {
	trimmed := bytes.TrimRight(data, "\n")
	i := bytes.LastIndexByte(trimmed, '\n')
	if i < 0 || !bytes.HasPrefix(trimmed[i+1:], []byte("crc32 ")) {
		return nil, 0, errors.New("truncated schedule file: the closing crc32 line is missing")
	}
	sum, err := strconv.ParseUint(string(trimmed[i+1+len("crc32 "):]), 16, 32)
	if err != nil {
		return nil, 0, fmt.Errorf("corrupt schedule file: bad crc32 line %q", trimmed[i+1:])
	}
	return data[:i+1], uint32(sum), nil
}

func (f *File) header(key, rest string, want *int) error {
	switch key {
	case "scenario":
		if rest == "" || f.Scenario != "" {
			return errors.New("one non-empty scenario line expected")
		}
		f.Scenario = rest
	case "param":
		if !strings.Contains(rest, "=") {
			return fmt.Errorf("param %q: want key=value", rest)
		}
		f.Params = append(f.Params, rest)
	case "max-steps":
		n, err := strconv.Atoi(rest)
		if err != nil || n < 1 || n > MaxDecisions {
			return fmt.Errorf("max-steps %q: want 1..%d", rest, MaxDecisions)
		}
		f.MaxSteps = n
	case "found-by":
		f.FoundBy = rest
	case "failure":
		kind, rest, _ := strings.Cut(rest, " ")
		step, msg, _ := strings.Cut(rest, " ")
		n, err := strconv.Atoi(step)
		if err != nil || n < 0 || kind == "" {
			return fmt.Errorf("failure line: want kind, step and quoted message")
		}
		m, err := strconv.Unquote(msg)
		if err != nil {
			return fmt.Errorf("failure line: message is not a quoted string")
		}
		f.Failure = &Failure{Kind: kind, Step: n, Message: m}
	case "failure-site":
		if f.Failure == nil || f.Failure.Site != "" || rest == "" {
			return errors.New("failure-site: want one non-empty site after the failure line")
		}
		f.Failure.Site = rest
	case "decisions":
		// The count is checked against the run's step budget, which a
		// run's decisions cannot exceed, before room is made for them.
		if f.MaxSteps < 0 {
			return errors.New("decisions before the max-steps line")
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 || n > f.MaxSteps {
			return fmt.Errorf("decisions %q: want a count up to the file's max-steps, %d", rest, f.MaxSteps)
		}
		*want = n
		f.Decisions = make([]string, 0, n)
	default:
		return fmt.Errorf("unknown line %q", key)
	}
	return nil
}

func (f *File) addDecisions(text string, want int) error {
	for _, tok := range strings.Fields(text) {
		n := 1
		if t, count, ok := strings.Cut(tok, "*"); ok {
			c, err := strconv.Atoi(count)
			if err != nil || c < 1 {
				return fmt.Errorf("bad repeat count in %q", tok)
			}
			tok, n = t, c
		}
		if tok == "" {
			return errors.New("empty decision")
		}
		if len(f.Decisions)+n > want {
			return fmt.Errorf("more decisions than the %d declared", want)
		}
		for range n {
			f.Decisions = append(f.Decisions, tok)
		}
	}
	return nil
}
