package main

import (
	"errors"
)

// Verbs not built yet. Each moves to its own cmd_*.go file when it lands.

var errNotYet = errors.New("not implemented yet")
