package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

const (
	jobFile = "../kubernetes/explore-indexed-job.yaml"
	pvcFile = "../kubernetes/results-pvc.yaml"
	// indexVar is the variable the Job controller sets to a pod's
	// completion index.
	indexVar = "JOB_COMPLETION_INDEX"
)

// decodeJob decodes a manifest into a Job; a field the API type does not
// have is an error.
func decodeJob(data []byte) (*batchv1.Job, error) {
	var job batchv1.Job
	if err := yaml.UnmarshalStrict(data, &job); err != nil {
		return nil, err
	}
	return &job, nil
}

func readJob(t *testing.T) *batchv1.Job {
	t.Helper()
	data, err := os.ReadFile(jobFile)
	require.NoError(t, err)
	job, err := decodeJob(data)
	require.NoError(t, err, "strict decode of %s", jobFile)
	return job
}

// flags are the arguments of `simrun explore SCENARIO` after the
// scenario: --name=value, or -name value for the flags that take a value.
type flags map[string]string

func parseFlags(t *testing.T, args []string) flags {
	t.Helper()
	f := flags{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		require.True(t, strings.HasPrefix(a, "-"), "argument %q is not a flag", a)
		name := strings.TrimLeft(a, "-")
		if k, v, ok := strings.Cut(name, "="); ok {
			f[k] = v
			continue
		}
		if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			f[name] = args[i+1]
			i++
			continue
		}
		f[name] = ""
	}
	return f
}

// container is the Job's one container, split into what the test checks.
type container struct {
	job      *batchv1.Job
	c        corev1.Container
	scenario string
	flags    flags
}

func explore(t *testing.T, job *batchv1.Job) container {
	t.Helper()
	cs := job.Spec.Template.Spec.Containers
	require.Len(t, cs, 1, "the Job runs one container")
	c := cs[0]
	require.GreaterOrEqual(t, len(c.Args), 2, "args: explore SCENARIO [flags]")
	require.Equal(t, "explore", c.Args[0])
	require.False(t, strings.HasPrefix(c.Args[1], "-"), "the scenario comes right after explore")
	return container{job: job, c: c, scenario: c.Args[1], flags: parseFlags(t, c.Args[2:])}
}

func (c container) flag(t *testing.T, name string) string {
	t.Helper()
	v, ok := c.flags[name]
	require.True(t, ok, "the container's args have no --%s", name)
	return v
}

// mountFor returns the container's volume mount that holds path.
func (c container) mountFor(path string) (corev1.VolumeMount, bool) {
	for _, m := range c.c.VolumeMounts {
		if path == m.MountPath || strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			return m, true
		}
	}
	return corev1.VolumeMount{}, false
}

func TestJob(t *testing.T) {
	job := readJob(t)
	assert.Equal(t, "batch/v1", job.APIVersion)
	assert.Equal(t, "Job", job.Kind)
	spec := job.Spec

	require.NotNil(t, spec.CompletionMode)
	assert.Equal(t, batchv1.IndexedCompletion, *spec.CompletionMode)
	require.NotNil(t, spec.Completions)
	require.NotNil(t, spec.Parallelism)
	assert.Equal(t, *spec.Completions, *spec.Parallelism, "completions == parallelism: every shard runs at once")
	assert.Equal(t, corev1.RestartPolicyNever, spec.Template.Spec.RestartPolicy)

	c := explore(t, job)

	t.Run("shard", func(t *testing.T) {
		name, count, ok := strings.Cut(c.flag(t, "shard"), "/")
		require.True(t, ok, "--shard=I/N")
		assert.Equal(t, indexVar, name, "the shard index comes from the completion index")
		n, err := strconv.Atoi(count)
		require.NoError(t, err)
		assert.EqualValues(t, *spec.Completions, n, "--shard's N is the number of completions")
	})

	t.Run("index variable", func(t *testing.T) {
		var env *corev1.EnvVar
		for i := range c.c.Env {
			if c.c.Env[i].Name == indexVar {
				env = &c.c.Env[i]
			}
		}
		require.NotNil(t, env, "%s is declared in the container's env, which $(%s) in args refers to", indexVar, indexVar)
		require.NotNil(t, env.ValueFrom)
		require.NotNil(t, env.ValueFrom.FieldRef)
		assert.Equal(t, fmt.Sprintf("metadata.annotations['%s']", batchv1.JobCompletionIndexAnnotation), env.ValueFrom.FieldRef.FieldPath)
		declared := map[string]bool{}
		for _, e := range c.c.Env {
			declared[e.Name] = true
		}
		for _, a := range c.c.Args {
			for _, m := range varRef.FindAllStringSubmatch(a, -1) {
				assert.True(t, declared[m[1]], "%q refers to $(%s), which the container's env does not declare", a, m[1])
			}
		}
	})

	t.Run("record", func(t *testing.T) {
		record := c.flag(t, "record")
		assert.Contains(t, record, "$("+indexVar+")", "each shard writes a record of its own")
		m, ok := c.mountFor(record)
		require.True(t, ok, "the record %s is on a mounted volume", record)
		assert.Equal(t, filepath.Dir(record), m.MountPath)
		assert.False(t, m.ReadOnly)
		if out, ok := c.flags["o"]; ok {
			_, ok := c.mountFor(out)
			assert.True(t, ok, "the schedule %s is on a mounted volume", out)
			assert.Contains(t, out, "$("+indexVar+")", "each shard writes a schedule of its own")
		}
		var vol *corev1.Volume
		for i, v := range spec.Template.Spec.Volumes {
			if v.Name == m.Name {
				vol = &spec.Template.Spec.Volumes[i]
			}
		}
		require.NotNil(t, vol, "volume %s of the mount exists", m.Name)
		require.NotNil(t, vol.PersistentVolumeClaim, "the records outlive the pods")

		data, err := os.ReadFile(pvcFile)
		require.NoError(t, err)
		var pvc corev1.PersistentVolumeClaim
		require.NoError(t, yaml.UnmarshalStrict(data, &pvc), "strict decode of %s", pvcFile)
		assert.Equal(t, "PersistentVolumeClaim", pvc.Kind)
		assert.Equal(t, pvc.Name, vol.PersistentVolumeClaim.ClaimName, "the Job mounts the claim results-pvc.yaml makes")
		assert.Contains(t, pvc.Spec.AccessModes, corev1.ReadWriteMany, "pods on several nodes write to the claim")
	})

	t.Run("resources", func(t *testing.T) {
		r := c.c.Resources
		cpu, ok := r.Requests[corev1.ResourceCPU]
		require.True(t, ok, "a CPU request")
		_, ok = r.Requests[corev1.ResourceMemory]
		assert.True(t, ok, "a memory request")
		_, ok = r.Limits[corev1.ResourceMemory]
		assert.True(t, ok, "a memory limit")
		workers, err := strconv.Atoi(c.flag(t, "workers"))
		require.NoError(t, err)
		assert.Zero(t, cpu.Cmp(*resource.NewQuantity(int64(workers), resource.DecimalSI)),
			"--workers=%d is the CPU request (%s)", workers, cpu.String())
	})

	t.Run("budget", func(t *testing.T) {
		runs, err := strconv.Atoi(c.flag(t, "runs"))
		require.NoError(t, err)
		assert.Positive(t, runs, "a run budget: with none the shards never end")
		d, err := time.ParseDuration(c.flag(t, "time"))
		require.NoError(t, err)
		assert.Zero(t, d, "--time=0: a shard stopped by the clock leaves merge without an answer")
	})

	t.Run("failure policy", func(t *testing.T) {
		// Exit 1 is a found failure, a result: the shard must not run again
		// (it would find the same), and the others must go on.
		require.NotNil(t, spec.PodFailurePolicy)
		var rule *batchv1.PodFailurePolicyRule
		for i, r := range spec.PodFailurePolicy.Rules {
			if e := r.OnExitCodes; e != nil && e.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && slices.Contains(e.Values, 1) {
				rule = &spec.PodFailurePolicy.Rules[i]
				break
			}
		}
		require.NotNil(t, rule, "a rule for exit code 1")
		if n := rule.OnExitCodes.ContainerName; n != nil {
			assert.Equal(t, c.c.Name, *n)
		}
		assert.Equal(t, batchv1.PodFailurePolicyActionFailIndex, rule.Action,
			"exit 1 fails its index: Ignore would retry it for ever, Count retries it, FailJob stops the other shards")
		require.NotNil(t, spec.BackoffLimitPerIndex, "FailIndex needs backoffLimitPerIndex")
		assert.LessOrEqual(t, *spec.BackoffLimitPerIndex, int32(3), "few retries of a crashed shard")
		assert.Nil(t, spec.MaxFailedIndexes, "shards that found failures do not stop the rest")
		require.NotNil(t, spec.BackoffLimit)
		most := *spec.Completions * (*spec.BackoffLimitPerIndex + 1)
		assert.GreaterOrEqual(t, *spec.BackoffLimit, most,
			"backoffLimit counts indexes failed by FailIndex too: below %d, shards that found failures could stop the Job", most)
		assert.LessOrEqual(t, *spec.BackoffLimit, most, "backoffLimit no larger than the per-index limits allow")
	})
}

// varRef is a reference to a variable in a container's args, as Kubernetes
// expands it.
var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expand replaces $(NAME) in s by env's NAME.
func expand(s string, env map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(ref string) string {
		if v, ok := env[varRef.FindStringSubmatch(ref)[1]]; ok {
			return v
		}
		return ref
	})
}

func TestMisspeltFieldIsAnError(t *testing.T) {
	data, err := os.ReadFile(jobFile)
	require.NoError(t, err)
	require.Equal(t, 1, bytes.Count(data, []byte("completionMode:")))
	path := filepath.Join(t.TempDir(), "job.yaml")
	require.NoError(t, os.WriteFile(path, bytes.Replace(data, []byte("completionMode:"), []byte("completionMod:"), 1), 0o644))
	bad, err := os.ReadFile(path)
	require.NoError(t, err)

	_, err = decodeJob(bad)
	require.Error(t, err, "the strict decode rejects a field batch/v1 Job does not have")
	assert.Contains(t, err.Error(), "completionMod")

	// A lax decode takes it and drops the field: strictness is what
	// catches the mistake.
	var job batchv1.Job
	require.NoError(t, yaml.Unmarshal(bad, &job))
	assert.Nil(t, job.Spec.CompletionMode)
}

// goCommand returns the go command that runs this test.
func goCommand(t *testing.T) string {
	t.Helper()
	goc := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goc); err == nil {
		return goc
	}
	goc, err := exec.LookPath("go")
	require.NoError(t, err, "a go command to build simrun with")
	return goc
}

// run runs cmd and returns its exit status and output.
func run(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), out.String()
	}
	require.NoError(t, err, "%s", cmd)
	return 0, out.String()
}

// TestArgsRunInSimrun runs the container's args, as the kubelet would hand
// them to each pod, through the repository's simrun with a tiny budget,
// then merges the records the shards wrote.
func TestArgsRunInSimrun(t *testing.T) {
	job := readJob(t)
	c := explore(t, job)
	count := int(*job.Spec.Completions)
	record := c.flag(t, "record")
	mount, ok := c.mountFor(record)
	require.True(t, ok)

	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	dir := t.TempDir()
	simrun := filepath.Join(dir, "simrun")
	build := exec.Command(goCommand(t), "build", "-o", simrun, "./cmd/simrun")
	build.Dir = root
	code, out := run(t, build)
	require.Zero(t, code, "go build ./cmd/simrun:\n%s", out)

	results := filepath.Join(dir, "results")
	require.NoError(t, os.Mkdir(results, 0o755))
	worst := 0
	for index := range count {
		env := map[string]string{indexVar: strconv.Itoa(index)}
		var args []string
		for _, a := range c.c.Args {
			a = expand(a, env)
			if strings.HasPrefix(a, "--runs=") {
				// Two runs for each shard, instead of the Job's budget.
				a = fmt.Sprintf("--runs=%d", 2*count)
			}
			args = append(args, strings.ReplaceAll(a, mount.MountPath, results))
		}
		cmd := exec.Command(simrun, args...)
		cmd.Dir = results // the container's workingDir is the volume
		cmd.Env = append(os.Environ(), indexVar+"="+strconv.Itoa(index))
		code, out := run(t, cmd)
		require.Contains(t, []int{0, 1}, code, "simrun %s exited %d (0: no failure, 1: a failure found):\n%s", strings.Join(args, " "), code, out)
		worst = max(worst, code)

		path := filepath.Join(results, fmt.Sprintf("shard-%d.json", index))
		require.Equal(t, path, strings.ReplaceAll(expand(record, env), mount.MountPath, results))
		data, err := os.ReadFile(path)
		require.NoError(t, err, "shard %d wrote its record", index)
		var r struct {
			Scenario string `json:"scenario"`
			Shard    struct{ Index, Count int }
		}
		require.NoError(t, json.Unmarshal(data, &r))
		assert.Equal(t, c.scenario, r.Scenario)
		assert.Equal(t, index, r.Shard.Index)
		assert.Equal(t, count, r.Shard.Count)
	}

	records, err := filepath.Glob(filepath.Join(results, "shard-*.json"))
	require.NoError(t, err)
	require.Len(t, records, count)
	merge := exec.Command(simrun, append(append([]string{"merge"}, records...), "-o", filepath.Join(dir, "merged.sched"))...)
	code, out = run(t, merge)
	assert.Equal(t, worst, code, "simrun merge finds a failure exactly when a shard did:\n%s", out)
}
