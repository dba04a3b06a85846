// Package cliargs holds the argument handling shared by the CLI verbs
// (package main), the daemon's remote commands and the TUI's dialogs:
// interspersed flags, amounts in BTT and tip memos.
package cliargs

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Interspersed parses flags placed before, between or after the
// positional arguments (`tip 1 ab12 --memo thanks`) with parse (which
// calls fs.Parse and maps its errors) and returns the positionals;
// everything after "--" is positional.
func Interspersed(fs *flag.FlagSet, args []string, parse func(*flag.FlagSet, []string) error) ([]string, error) {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// FlagSet returns a flag set that prints "Usage: " and usage, then its
// flags, to w, and returns flag.ErrHelp for -h.
func FlagSet(name, usage string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: %s\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses args into fs. A bad flag, already explained on the flag
// set's output, is returned as bad; -h as flag.ErrHelp.
func Parse(fs *flag.FlagSet, args []string, bad error) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return bad
	}
	return nil
}
