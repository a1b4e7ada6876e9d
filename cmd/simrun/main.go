// Command simrun explores a scenario's schedules on the simulated machine
// until one fails, and replays a failing schedule step by step.
//
//	simrun list
//	simrun explore SCENARIO [--strategy=random|pct] [--seed=N] [--runs=N] [--time=D]
//	                        [--depth=N] [--set key=value ...] [-o FILE] [--json]
//	simrun replay FILE [--trace=lines|columns] [--json]
//
// Exit status: 0 no failure, 1 a failure was found or reproduced, 2 bad
// usage or input, 3 the host watchdog stopped a replay (a judgement of
// host time: no verdict), 130 interrupted with nothing found.
package main

import (
	"context"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
