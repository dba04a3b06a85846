package tron_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaks goroutines (gRPC clients,
// servers, confirmation pollers). rjeczalik/notify, which gotron-sdk's
// client imports through its keystore package, starts two goroutines in
// its init; they are process-wide and ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/rjeczalik/notify.(*nonrecursiveTree).dispatch"),
		goleak.IgnoreTopFunction("github.com/rjeczalik/notify.(*nonrecursiveTree).internal"),
	)
}
