package core

import (
	"encoding/hex"
	"time"

	"github.com/bidtorrent/bidtorrent/core/market"
	"github.com/bidtorrent/bidtorrent/wallet"
)

// InfoHash identifies a torrent (BitTorrent v1, SHA-1 of the info dict).
type InfoHash [20]byte

// String returns the lower-case hex form.
func (h InfoHash) String() string { return hex.EncodeToString(h[:]) }

// ParseInfoHash parses 40 hex digits.
func ParseInfoHash(s string) (InfoHash, error) {
	var h InfoHash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, &InputError{What: "infohash", Value: s, Reason: "want 40 hex digits"}
	}
	copy(h[:], b)
	return h, nil
}

// PeerKey identifies a peer connection within a torrent: its remote
// address, host:port.
type PeerKey string

// String returns the address.
func (k PeerKey) String() string { return string(k) }

// InputError reports user input that cannot be used.
type InputError struct {
	What, Value, Reason string
}

func (e *InputError) Error() string {
	return "bad " + e.What + " " + quote(e.Value) + ": " + e.Reason
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return "\"" + s + "\""
}

// State is a torrent's lifecycle state.
type State string

// Torrent states.
const (
	StateMetadata    State = "metadata"    // waiting for the info dict (magnet)
	StateChecking    State = "checking"    // hashing existing data
	StateDownloading State = "downloading" // wants pieces
	StateSeeding     State = "seeding"     // complete, uploading
	StatePaused      State = "paused"      // stopped by the user
	StateQueued      State = "queued"      // waiting for a queue slot
	StateError       State = "error"       // stopped by an error; see Err
)

// Priority is a file's download priority.
type Priority int

// File priorities.
const (
	PrioritySkip   Priority = -1
	PriorityNormal Priority = 0
	PriorityHigh   Priority = 1
)

// Snapshot is an immutable view of the whole engine, published a few times a
// second. Receivers must not modify it; slices are never shared with the
// engine's live state, but they are shared between snapshots: a torrent
// that did not change keeps its slices, and while no torrent changed
// Torrents is the previous snapshot's slice itself (SameTorrents).
type Snapshot struct {
	Time     time.Time
	Torrents []Torrent // in the order they were added
	Totals   Totals
	Limits   Limits
	// Market is the global market settings: the defaults for torrents
	// that set none of their own (what SetMarket stores for the zero
	// InfoHash).
	Market MarketPolicy
	Wallet WalletStatus
	// Err is the most recent engine-level error worth showing the user
	// (empty if none), with when it happened.
	Err     string
	ErrTime time.Time
}

// Totals sums over all torrents.
type Totals struct {
	DownRate, UpRate     int64 // bytes per second
	Downloaded, Uploaded int64 // bytes this session
	Peers                int
	Spent, Earned        wallet.Amount // base units, all time
	Unsettled            wallet.Amount // received in cheques, not yet settled
}

// Limits are the global rate limits in bytes per second; 0 means unlimited.
type Limits struct {
	Down, Up int64
}

// WalletStatus is what the UI shows of the wallet.
type WalletStatus struct {
	Address   string // base58 T… address, empty when no wallet is open
	Chain     string // "local", "mainnet", "nile", "shasta"
	Token     string // token symbol, e.g. "BTT"
	Decimals  int
	Balance   wallet.Amount
	Unsettled wallet.Amount
	Err       string
}

// Torrent is one torrent's status.
type Torrent struct {
	InfoHash    InfoHash
	InfoHashV2  InfoHashV2 // zero for a v1 torrent, or until the metadata is known
	Format      Format     // "" until the metadata is known
	Name        string
	Labels      []string
	AddedAt     time.Time
	Size        int64 // bytes wanted in total (0 until metadata is known)
	Done        int64 // verified bytes
	State       State
	Parked      bool // seeding out of the client until a peer asks for it (core/park.go)
	Err         string
	DownRate    int64 // bytes per second
	UpRate      int64
	Downloaded  int64 // payload bytes, all time
	Uploaded    int64
	Ratio       float64 // Uploaded / Size, for display only
	PeerCount   int
	SeedCount   int
	ETA         time.Duration // 0 when unknown or complete
	Sequential  bool
	Limits      Limits // per-torrent limits, 0 = none
	DataDir     string
	PieceLength int64
	NumPieces   int
	// Pieces holds one byte per piece: 0 missing, 1 partial, 2 complete.
	Pieces   []byte
	Files    []File
	Peers    []Peer
	Trackers []Tracker
	Market   TorrentMarket
	// Terms are the publisher terms of the info dict (nil: none, or the
	// metadata is not known yet). Shared between snapshots: never modify.
	Terms *market.Terms
	// Licensed is set when we hold a licence for this paid torrent.
	Licensed bool
	// Campaign is the crowdfunding campaign of the terms (nil: none).
	Campaign *market.Campaign
}

// SameTorrents reports whether s and o hold the same torrents with the
// same values, as the engine publishes it while no torrent changes (a
// consumer may skip its per-torrent work). False negatives are possible.
func (s Snapshot) SameTorrents(o Snapshot) bool {
	return len(s.Torrents) == len(o.Torrents) && (len(s.Torrents) == 0 || &s.Torrents[0] == &o.Torrents[0])
}

// Torrent returns the torrent ih of the snapshot.
func (s Snapshot) Torrent(ih InfoHash) (Torrent, bool) {
	for _, t := range s.Torrents {
		if t.InfoHash == ih {
			return t, true
		}
	}
	return Torrent{}, false
}

// Complete reports whether every wanted byte is verified.
func (t *Torrent) Complete() bool { return t.Size > 0 && t.Done >= t.Size }

// Progress returns Done/Size in [0,1].
func (t *Torrent) Progress() float64 {
	if t.Size <= 0 {
		return 0
	}
	return float64(t.Done) / float64(t.Size)
}

// File is one file of a torrent.
type File struct {
	Path     string // slash-separated, relative to the torrent root
	Size     int64
	Done     int64
	Priority Priority
}

// Tracker is one announce URL and its last result.
type Tracker struct {
	URL      string
	Status   string
	Peers    int
	LastErr  string
	Next     time.Time
	LastSeen time.Time
}

// Peer is one connected peer.
type Peer struct {
	Key          PeerKey // remote address
	Client       string  // client name from the extended handshake or peer ID
	PeerID       string  // hex
	Incoming     bool
	Transport    string // "tcp" or "utp"
	Encrypted    bool
	AmChoking    bool
	AmInterested bool
	PeerChoking  bool
	PeerInterest bool
	Extensions   []string // BEP 10 extension names the peer advertises
	Progress     float64
	DownRate     int64
	UpRate       int64
	Downloaded   int64 // payload bytes from the peer
	Uploaded     int64 // payload bytes to the peer
	Market       PeerMarket
}

// PeerMarket is the bandwidth-market state with one peer (btt_bid). Zero
// when the peer does not speak the extension.
type PeerMarket struct {
	Enabled  bool   // both sides negotiated btt_bid
	Address  string // the peer's TRON address from its HELLO
	TheirBid wallet.Amount
	TheirAsk wallet.Amount
	OurBid   wallet.Amount
	OurAsk   wallet.Amount
	Price    wallet.Amount // clearing price in force (per MiB)
	Awarded  bool          // we award the peer paid service
	AwardedU bool          // the peer awards us paid service
	Share    float64       // fraction of our upload the seller strategy gives it
	Bought   int64         // bytes bought from the peer while awarded
	Sold     int64         // bytes sold to the peer while awarded
	Spent    wallet.Amount // cumulative cheques we issued to it
	Earned   wallet.Amount // cumulative cheques we accepted from it
	Debt     wallet.Amount // what it owes us beyond its cheques
	Credit   wallet.Amount // credit limit we extend to it
	Err      string
}

// MarketPolicy is a torrent's market settings as stored, or (in
// Snapshot.Market) the global ones, the defaults a torrent uses for any
// setting it leaves empty. Empty strategies and zero amounts mean "not
// set" (the built-in defaults apply).
type MarketPolicy struct {
	BuyerStrategy  string
	SellerStrategy string
	Bid            wallet.Amount // max price per MiB we offer
	Ask            wallet.Amount // reserve price per MiB we ask
	Budget         wallet.Amount // 0 = none
}

// TorrentMarket is a torrent's market settings and totals.
type TorrentMarket struct {
	MarketPolicy
	// Price is, for a torrent we sell, the clearing price of our latest
	// auction; for a torrent we only buy, the highest price in force
	// among the sellers that award us (zero when none does).
	Price         wallet.Amount
	Spent, Earned wallet.Amount
	// Unsettled is this torrent's part of the received cheques not yet
	// settled: each payer's unsettled amount split between the torrents
	// it paid this session, pro rata to what each earned from it.
	Unsettled wallet.Amount
	// Sold and Bought are the bytes served and received while awarded
	// (paid service), this session.
	Sold, Bought int64
	History      []MarketPoint // recent, oldest first, bounded
	// Payments are the tips, purchases and pledge payments of this
	// torrent, oldest first (the most recent 100).
	Payments []market.Payment
}

// MarketPoint is one sample of a torrent's market over time.
type MarketPoint struct {
	Time   time.Time
	Price  wallet.Amount
	Earned wallet.Amount
	Spent  wallet.Amount
}
