package schedule

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sample() *File {
	return &File{
		Scenario: "ring2005",
		Params:   []string{"cpus=2", "ring=8", "burst=8", "packets=64"},
		MaxSteps: 200000,
		FoundBy:  "random seed=1 run=0",
		Failure:  &Failure{Kind: "panic", Step: 320, Message: "Tail pointer must be \"null\"\n", Site: "ring2005/ring.go:79"},
		Decisions: append(append([]string{"w0:reader/0", "s0", "s0", "s0", "i1:nic"},
			strings.Split(strings.Repeat("s1 s0 ", 40), " ")[:80]...), "w1:reader/1"),
	}
}

func TestRoundTrip(t *testing.T) {
	for _, f := range []*File{sample(), {Scenario: "x", MaxSteps: 1}} {
		data := f.Encode()
		got, err := Decode(data)
		require.NoError(t, err)
		if f.Decisions == nil {
			f.Decisions = got.Decisions[:0:0]
			got.Decisions = f.Decisions
		}
		assert.Equal(t, f, got)
		assert.Equal(t, data, got.Encode(), "encoding is canonical")
	}
}

func TestEncodingIsCompactAndReadable(t *testing.T) {
	data := string(sample().Encode())
	assert.Contains(t, data, "s0*3 i1:nic s1 s0 s1 s0")
	for _, line := range strings.Split(data, "\n") {
		assert.LessOrEqual(t, len(line), 100)
	}
}

func TestBadFilesGetOneLineErrors(t *testing.T) {
	good := sample().Encode()
	flip := bytes.Clone(good)
	flip[bytes.Index(flip, []byte("s0*3"))+1] = '1'
	cases := map[string]struct {
		data []byte
		want string
	}{
		"empty":       {nil, "not a simrun schedule file"},
		"foreign":     {[]byte("{\"json\": true}\n"), "not a simrun schedule file"},
		"truncated":   {good[:len(good)/2], "truncated schedule file: the closing crc32 line is missing"},
		"edited":      {flip, "corrupt schedule file: checksum"},
		"bad crc":     {append(good[:bytes.LastIndex(good, []byte("crc32"))], "crc32 zz\n"...), "corrupt schedule file: bad crc32 line"},
		"new version": {resum(bytes.Replace(good, []byte(Magic+" 1"), []byte(Magic+" 9"), 1)), `schedule file version "9": this simrun reads version 1`},
		"unknown key": {resum(bytes.Replace(good, []byte("found-by"), []byte("colour"), 1)), `schedule file line 8: unknown line "colour"`},
		"count":       {resum(bytes.Replace(good, []byte("decisions 86"), []byte("decisions 87"), 1)), "declares 87 decisions but holds 86"},
		"repeat":      {resum(bytes.Replace(good, []byte("s0*3"), []byte("s0*x"), 1)), `bad repeat count in "s0*x"`},
		"no scenario": {resum(bytes.Replace(good, []byte("scenario ring2005\n"), nil, 1)), "names no scenario"},
		"site alone":  {resum(bytes.Replace(good, []byte("failure panic"), []byte("found-by panic"), 1)), "failure-site: want one non-empty site after the failure line"},
		"huge count":  {resum(bytes.Replace(good, []byte("decisions 86"), []byte("decisions 999999999999"), 1)), "want a count up to"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(tc.data)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}
	_, err := Decode([]byte("hello"))
	assert.True(t, errors.Is(err, ErrNotSchedule))
}

// resum recomputes the checksum of an edited file, so that the edit
// itself is what the decoder judges.
func resum(data []byte) []byte {
	body := data[:bytes.LastIndex(data, []byte("crc32 "))]
	return fmt.Appendf(bytes.Clone(body), "crc32 %08x\n", crc32.ChecksumIEEE(body))
}

// FuzzDecode feeds arbitrary bytes to the decoder: it never panics, and
// whatever it accepts encodes back to a file it accepts again unchanged.
func FuzzDecode(f *testing.F) {
	f.Add(sample().Encode())
	f.Add((&File{Scenario: "x", MaxSteps: 1}).Encode())
	f.Add([]byte(Magic + " 1\ncrc32 00000000\n"))
	matches, _ := filepath.Glob(filepath.Join("..", "testdata", "*.sched"))
	for _, m := range matches {
		if data, err := os.ReadFile(m); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Decode(data)
		if err != nil {
			assert.NotContains(t, err.Error(), "\n")
			return
		}
		again, err := Decode(got.Encode())
		require.NoError(t, err)
		assert.Equal(t, got.Encode(), again.Encode())
	})
}
