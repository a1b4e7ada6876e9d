//go:build simcheck

package sim

const checkMoves = true
