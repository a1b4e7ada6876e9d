//go:build !simcheck

package sim

// checkMoves, set by the simcheck build tag, makes every decision compare
// the kept move list with one computed from scratch.
const checkMoves = false
