package simrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kernelsim/lfsim/litmus"
)

type litmusState struct {
	State string `json:"state"`
	Count int    `json:"count"`
}

type litmusJSON struct {
	File        string        `json:"file"`
	Name        string        `json:"name,omitempty"`
	Model       string        `json:"model"`
	States      []litmusState `json:"states,omitempty"`
	Positive    int           `json:"positive"`
	Negative    int           `json:"negative"`
	Observation string        `json:"observation,omitempty"`
	Expected    string        `json:"expected,omitempty"`
	Agrees      *bool         `json:"agrees,omitempty"`
	Forbidden   string        `json:"forbidden,omitempty"`
	Flags       []string      `json:"flags,omitempty"`
	Unsupported string        `json:"unsupported,omitempty"`
}

// litmusCmd runs litmus tests under a memory model and compares each
// verdict with the Result line of its test.
func (c *Command) litmusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("litmus")
	model := fs.String("model", "lkmm", "memory `model`: lkmm, sc or tso")
	asJSON := fs.Bool("json", false, "print one JSON object per test, in an array")
	explain := fs.Bool("explain", false, "for a forbidden outcome, print the cycle that forbids it")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return usageError(stderr, "litmus", err)
	}
	m, ok := litmus.Models[*model]
	if !ok {
		names := make([]string, 0, len(litmus.Models))
		for n := range litmus.Models {
			names = append(names, n)
		}
		slices.Sort(names)
		return usageError(stderr, "litmus", fmt.Errorf("--model=%s: want one of %s", *model, strings.Join(names, ", ")))
	}
	if len(pos) == 0 {
		return usageError(stderr, "litmus", errors.New("want litmus files or directories"))
	}
	files, err := litmusFiles(pos)
	if err != nil {
		return usageError(stderr, "litmus", err)
	}
	var results []litmusJSON
	agree, disagree, unsupported, unstated := 0, 0, 0, 0
	interrupted := false
	for _, path := range files {
		if ctx.Err() != nil {
			// What ran is reported; the tests left are not.
			interrupted = true
			break
		}
		r := litmusJSON{File: path, Model: m.Name()}
		out, err := runLitmus(path, m)
		if err != nil {
			r.Unsupported = err.Error()
			unsupported++
			results = append(results, r)
			if !*asJSON {
				fmt.Fprintf(stdout, "%s: %v\n\n", path, err)
			}
			continue
		}
		r.Name, r.Positive, r.Negative, r.Observation, r.Expected = out.Test.Name, out.Positive, out.Negative, out.Observation, out.Test.Result
		for _, s := range out.States {
			r.States = append(r.States, litmusState{s.Text, s.Count})
		}
		if out.Positive == 0 {
			r.Forbidden = out.Forbidden
		}
		r.Flags = out.Flags
		if a, ok := out.Agrees(); ok {
			r.Agrees = &a
			if a {
				agree++
			} else {
				disagree++
			}
		} else {
			unstated++
		}
		results = append(results, r)
		if !*asJSON {
			out.Write(stdout, *explain)
			fmt.Fprintln(stdout)
		}
	}
	if *asJSON {
		json.NewEncoder(stdout).Encode(results)
	} else if len(files) > 1 {
		fmt.Fprintf(stdout, "%d tests under %s: %d agree with their Result line, %d disagree, %d state none, %d unsupported\n",
			len(files), m.Name(), agree, disagree, unstated, unsupported)
	}
	switch {
	case disagree > 0:
		return exitFailure
	case interrupted:
		fmt.Fprintf(stderr, "simrun litmus: interrupted after %d of %d tests\n", len(results), len(files))
		return exitInterrupted
	case unsupported == len(files):
		return exitUsage
	}
	return exitPass
}

func runLitmus(path string, m litmus.Model) (*litmus.Outcome, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := litmus.Parse(string(src))
	if err != nil {
		return nil, err
	}
	return litmus.Run(t, m)
}

// litmusFiles expands directories into their .litmus files, in name order.
func litmusFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".litmus") {
				found = append(found, path)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no .litmus files", a)
		}
		slices.Sort(found)
		files = append(files, found...)
	}
	return files, nil
}
