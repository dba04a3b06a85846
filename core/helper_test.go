package core

import (
	"context"
	"fmt"
	"os"
	"time"
)

// runHelper is the subprocess side of TestKillResume: it downloads
// $BT_TORRENT into $BT_OUT with state in $BT_DATA, dialling $BT_PEER from
// $BT_IP, and prints "done N" for every snapshot until it is killed.
func runHelper() int {
	cfg := testConfig(os.Getenv("BT_IP"))
	e, err := New(cfg, os.Getenv("BT_DATA"), WithSnapshotInterval(50*time.Millisecond))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	ih, err := e.Add(ctx, AddSpec{Source: os.Getenv("BT_TORRENT"), DataDir: os.Getenv("BT_OUT"), Peers: []string{os.Getenv("BT_PEER")}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	snaps, unsub := e.Subscribe()
	defer unsub()
	for s := range snaps {
		for _, t := range s.Torrents {
			if t.InfoHash == ih {
				fmt.Printf("done %d\n", t.Done)
			}
		}
	}
	return 0
}
