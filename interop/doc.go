//go:build linux

// Package interop proves that bidtorrent speaks real BitTorrent to clients
// nobody here wrote: aria2 and Transmission from Debian packages.
//
// The tests (go test ./interop/) build the bidtorrent binary once and drive
// it through its headless verbs (create, seed, get) against real peers on
// loopback, each peer on its own 127.0.0.x address with DHT, LSD, PEX, UPnP
// and uTP switched off, and check every payload by SHA-256. A test skips
// when a peer program is missing, and fails instead when CI=true.
//
// The non-test files hold the harness the tests and the transfer benchmark
// (bench/transfer) share: a tiny HTTP tracker, a child-process runner that
// logs to files and kills whole process groups, launchers for aria2 and
// transmission-daemon, and a minimal .torrent reader for the infohash.
package interop
