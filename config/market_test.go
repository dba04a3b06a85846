package config

import (
	"strings"
	"testing"
)

func TestMarketSection(t *testing.T) {
	var c Config = Default()
	if err := Decode("[market]\nask = \"0.001\"\nbid = \"0.002\"\nbudget = \"5\"\nseller_strategy = \"propshare\"\nbuyer_strategy = \"fixed\"\n", &c); err != nil {
		t.Fatal(err)
	}
	ask, bid, budget, err := c.Market.Amounts()
	if err != nil || ask.String() != "1000000000000000" || bid.String() != "2000000000000000" || budget.String() != "5000000000000000000" {
		t.Fatalf("amounts %v %v %v %v", ask, bid, budget, err)
	}
	for text, want := range map[string]string{
		"[market]\nask = \"cheap\"\n":            `[market] ask = "cheap"`,
		"[market]\nseller_strategy = \"best\"\n": `[market] seller_strategy = "best": want one of uniform`,
		"[market]\nbuyer_strategy = \"free\"\n":  `[market] buyer_strategy = "free": want one of none`,
	} {
		c := Default()
		err := Decode(text, &c)
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}
