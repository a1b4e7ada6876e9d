// Package shell runs the commands the project's pages show, as a
// reader's shell runs them: for the tests that keep those pages true.
package shell

import (
	"errors"
	"io"
	"os/exec"
)

// Run runs command with bash in dir with env, its output going to stdout
// and stderr, and returns its exit status. The error is set only when
// the command could not be run at all.
func Run(command, dir string, env []string, stdout, stderr io.Writer) (int, error) {
	cmd := exec.Command("bash", "-c", command)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	return 0, err
}
