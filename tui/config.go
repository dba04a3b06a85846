package tui

// Config is the [tui] section of the config file.
type Config struct{}

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config { return Config{} }

// Validate reports the first invalid value, naming its key.
func (c Config) Validate() error { return nil }
