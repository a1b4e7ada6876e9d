// Command simrun explores the project's scenarios' schedules on the
// simulated machine until one fails, and replays, shrinks and converts
// failing schedules; see package simrun, which a user's own command can
// run on their scenarios.
package main

import (
	"github.com/kernelsim/lfsim/fuzz"
	"github.com/kernelsim/lfsim/scenario"
	"github.com/kernelsim/lfsim/simrun"
)

func main() {
	c := &simrun.Command{Scenarios: scenario.All(), Targets: fuzz.Targets()}
	c.Main()
}
