package simrun

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLitmus(t *testing.T) {
	dir := t.TempDir()
	sb := filepath.Join(dir, "SB.litmus")
	require.NoError(t, os.WriteFile(sb, []byte(`C SB
{}
P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }
P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 1); r0 = READ_ONCE(*x); }
exists (0:r0=0 /\ 1:r0=0)
`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.litmus"), []byte("C bad\n{}\nP0(int *x) { while (1) {} }\nexists (x=0)\n"), 0o644))

	code, out, _ := simrun(t, "litmus", sb, "--model=sc", "--explain")
	assert.Equal(t, exitPass, code)
	assert.Contains(t, out, "Observation SB Never 0 3")
	assert.Contains(t, out, "Forbidden by sc cycle:")
	assert.Regexp(t, `P0:W x=1 \(WRITE_ONCE\) -po-> P0:R y=0 \(READ_ONCE\) -fre-> P1:W y=1`, out, "each link of the cycle is named")
	code, out, _ = simrun(t, "litmus", sb, "--model=tso")
	assert.Equal(t, exitPass, code)
	assert.Contains(t, out, "Observation SB Sometimes 1 3")

	code, out, _ = simrun(t, "litmus", dir, "--model=tso", "--json")
	assert.Equal(t, exitPass, code)
	var res []litmusJSON
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Len(t, res, 2)
	assert.Contains(t, res[1].Unsupported, "line 3: \"while\" statements are not supported")
	assert.Equal(t, "Sometimes", res[0].Observation)

	code, _, errOut := simrun(t, "litmus", sb, "--model=arm")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "--model=arm: want one of lkmm, sc, tso")
	code, _, _ = simrun(t, "litmus", filepath.Join(dir, "bad.litmus"))
	assert.Equal(t, exitUsage, code, "nothing it could judge")
}
