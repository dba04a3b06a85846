package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// store persists the engine's state in DATA_DIR/state.db (bbolt; every
// update is one fsynced transaction). Piece completion lives beside it in
// anacrolix's own bolt file.
type store struct {
	db *bolt.DB
}

var (
	bucketTorrents = []byte("torrents")
	bucketGlobal   = []byte("global")
	keySettings    = []byte("settings")
)

// record is one torrent as persisted.
type record struct {
	InfoHash   string     `json:"infohash"`
	MetaInfo   []byte     `json:"metainfo,omitempty"` // bencoded .torrent, once known
	Magnet     string     `json:"magnet,omitempty"`   // the source, for magnets
	DataDir    string     `json:"data_dir"`
	Paused     bool       `json:"paused,omitempty"`
	Labels     []string   `json:"labels,omitempty"`
	Sequential bool       `json:"sequential,omitempty"`
	Priorities []Priority `json:"priorities,omitempty"` // per file, once known
	Limits     Limits     `json:"limits"`
	Market     marketRec  `json:"market"`
	Peers      []string   `json:"peers,omitempty"`  // dialled directly
	Parked     bool       `json:"parked,omitempty"` // out of the client at shutdown (park.go)
	AddedAt    time.Time  `json:"added_at"`
	Downloaded int64      `json:"downloaded"` // payload bytes, all time
	Uploaded   int64      `json:"uploaded"`
}

// marketRec is MarketSettings as stored (amounts in decimal base units).
type marketRec struct {
	BuyerStrategy  string `json:"buyer_strategy,omitempty"`
	SellerStrategy string `json:"seller_strategy,omitempty"`
	Bid            string `json:"bid,omitempty"`
	Ask            string `json:"ask,omitempty"`
	Budget         string `json:"budget,omitempty"`
}

// settings are the engine-wide settings changed at run time.
type settings struct {
	Limits *Limits    `json:"limits,omitempty"`
	Market *marketRec `json:"market,omitempty"`
}

func openStore(dataDir string) (*store, error) {
	p := filepath.Join(dataDir, "state.db")
	db, err := bolt.Open(p, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("cannot open %s: the data dir is in use by another bidtorrent (pick another with --data-dir)", p)
		}
		return nil, fmt.Errorf("cannot open %s: %w", p, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketTorrents, bucketGlobal} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot initialise %s: %w", p, err)
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

func (s *store) putTorrent(r *record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTorrents).Put([]byte(r.InfoHash), b)
	})
	if err != nil {
		return fmt.Errorf("cannot save torrent %s: %w", r.InfoHash, err)
	}
	return nil
}

// putTorrents saves several records in one transaction.
func (s *store) putTorrents(rs []*record) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, r := range rs {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketTorrents).Put([]byte(r.InfoHash), b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot save torrents: %w", err)
	}
	return nil
}

func (s *store) deleteTorrent(ih string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTorrents).Delete([]byte(ih))
	})
	if err != nil {
		return fmt.Errorf("cannot forget torrent %s: %w", ih, err)
	}
	return nil
}

// torrents returns every stored record, oldest first.
func (s *store) torrents() ([]*record, error) {
	var out []*record
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTorrents).ForEach(func(k, v []byte) error {
			r := new(record)
			if err := json.Unmarshal(v, r); err != nil {
				return fmt.Errorf("torrent %s: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read saved torrents: %w", err)
	}
	sortRecords(out)
	return out, nil
}

func sortRecords(rs []*record) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].AddedAt.Before(rs[j-1].AddedAt); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

func (s *store) settings() (settings, error) {
	var st settings
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketGlobal).Get(keySettings)
		if v == nil {
			return nil
		}
		return json.Unmarshal(v, &st)
	})
	if err != nil {
		return st, fmt.Errorf("cannot read saved settings: %w", err)
	}
	return st, nil
}

func (s *store) putSettings(st settings) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketGlobal).Put(keySettings, b)
	})
	if err != nil {
		return fmt.Errorf("cannot save settings: %w", err)
	}
	return nil
}
