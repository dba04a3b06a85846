//go:build linux

// Package interop proves that bidtorrent speaks real BitTorrent to clients
// nobody here wrote: aria2, Transmission and libtorrent-rasterbar (through
// python3-libtorrent), all from Debian packages.
//
// The tests (go test ./interop/) build the bidtorrent binary once and drive
// it through its headless verbs (create, seed, get) against real peers on
// loopback, each peer on its own 127.x.y.z address (listening and dialing)
// with DHT, LSD, PEX, UPnP/NAT-PMP and uTP switched off, and check every
// payload by SHA-256. Covered: our get from each client (by .torrent, by
// magnet over BEP 9, by http URL), each client downloading from our seed,
// MSE-encrypted transfers, a private torrent, a multi-file torrent with an
// empty file, and aria2 using our --webseed. A test skips when a peer
// program is missing and fails instead when CI=true; children run in their
// own process groups, log to the test's temp dir (printed on failure) and
// are killed when the test ends. The tests run in parallel: the package
// takes about 25 s, most of it Transmission's start-up with a new peer:
// nothing for ~10 s (its rechoke period), then a ramp to full speed.
//
// The non-test files hold the harness the tests and the transfer benchmark
// (bench/transfer) share: a tiny HTTP tracker, a child-process runner that
// logs to files and kills whole process groups, launchers for aria2 and
// transmission-daemon, a plain-handshake "has every piece" probe, and a
// minimal .torrent reader for the infohash.
package interop
