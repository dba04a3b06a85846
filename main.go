// Command bidtorrent is a keyboard-driven terminal BitTorrent client with an
// optional bandwidth market (the btt_bid extension): peers bid tokens for
// upload bandwidth and pay with signed cheques.
//
// main.go only wires: it parses the global flags and hands the rest of the
// command line to one verb. Each verb lives in a cmd_*.go file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/bidtorrent/bidtorrent/config"
	"github.com/bidtorrent/bidtorrent/internal/app"
	"github.com/bidtorrent/bidtorrent/internal/cliargs"
)

// Set with -ldflags "-X main.version=… -X main.commit=… -X main.date=…".
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

// cli is what every verb gets: the global flags and the process's streams.
type cli struct {
	configPath string // --config; empty means the default path
	dataDir    string // --data-dir; empty means the default dir
	ledger     string // --ledger; empty means the config's or the default
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer
}

type verb struct {
	summary string
	run     func(ctx context.Context, c *cli, args []string) error
}

// verbs is the table of sub-commands. No verb opens the TUI.
var verbs = map[string]verb{
	"version": {"print version and commit", runVersion},
	"create":  {"make a .torrent file from a file or directory", runCreate},
	"seed":    {"seed a file or directory until interrupted", runSeed},
	"get":     {"download a torrent, magnet or URL and exit when verified (--buy pays a paid one)", runGet},
	"tip":     {"tip a connected peer or a torrent's publisher: tip --to PEER|publisher AMOUNT TORRENT", runTip},
	"pledge":  {"pledge to a torrent's crowdfunding campaign: pledge AMOUNT TORRENT", runPledge},
	"wallet":  {"keys, balances, cheques and settlement", runWallet},
	"tui":     {"the terminal UI (the default when no verb is given)", runTUI},
	"demo":    {"a self-contained market swarm on loopback, with the TUI", runDemo},
	"daemon":  {"the engine without a terminal, with an SSH server to attach TUIs", runDaemon},
}

// errUsage marks an error already explained by a usage message.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("bidtorrent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.configPath, "config", "", "config `FILE` (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)")
	fs.StringVar(&c.dataDir, "data-dir", "", "data `DIR` for state, keystore and logs (default: $XDG_DATA_HOME/bidtorrent)")
	fs.StringVar(&c.ledger, "ledger", "", "local ledger `FILE` (default: the config's, or DATA_DIR/ledger.db)")
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	rest := fs.Args()
	name := "tui"
	if len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	if name == "help" {
		if len(rest) > 0 {
			if v, ok := verbs[rest[0]]; ok {
				err := v.run(ctx, c, []string{"-h"})
				return exitCode(err, stderr)
			}
		}
		usage(fs)
		return 0
	}
	v, ok := verbs[name]
	if !ok {
		fmt.Fprintf(stderr, "bidtorrent: unknown command %q (try: bidtorrent help)\n", name)
		return 2
	}
	return exitCode(v.run(ctx, c, rest), stderr)
}

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "bidtorrent: %v\n", err)
		return 1
	}
}

func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintf(w, "Usage: bidtorrent [global flags] [command] [flags] [args]\n\nCommands:\n")
	names := slices.Sorted(maps.Keys(verbs))
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, verbs[n].summary)
	}
	fmt.Fprintf(w, "  %-8s %s\n\nGlobal flags:\n", "help", "help for a command: bidtorrent help COMMAND")
	fs.PrintDefaults()
}

// newFlagSet returns a flag set for a verb that prints its usage to stderr
// and returns flag.ErrHelp for -h.
func (c *cli) newFlagSet(name, argsUsage string) *flag.FlagSet {
	return cliargs.FlagSet("bidtorrent "+name, "bidtorrent "+name+" [flags] "+argsUsage, c.stderr)
}

// parseFlags parses args and maps a bad flag to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error { return cliargs.Parse(fs, args, errUsage) }

// parseArgs parses args into fs and wants exactly n positional
// arguments, else reports msg with usage.
func (c *cli) parseArgs(fs *flag.FlagSet, args []string, n int, msg string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != n {
		return argsError(c, usager{fs.Usage}, msg)
	}
	return nil
}

func runVersion(ctx context.Context, c *cli, args []string) error {
	fs := c.newFlagSet("version", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "bidtorrent %s (commit %s, built %s)\n", version, commit, date)
	return nil
}

// env loads the config and the data dir's file locations from the global
// flags.
func (c *cli) env() (*app.Env, error) {
	return app.Load(app.Options{ConfigPath: c.configPath, DataDir: c.dataDir, Ledger: c.ledger,
		ScryptN: keystoreScryptN, ScryptP: keystoreScryptP})
}

// loadConfig reads --config (or the default path).
func (c *cli) loadConfig() (config.Config, error) { return app.LoadConfig(c.configPath) }

// defaultDataDir is --data-dir, or $XDG_DATA_HOME/bidtorrent.
func (c *cli) defaultDataDir() (string, error) { return app.DataDir(c.dataDir) }
