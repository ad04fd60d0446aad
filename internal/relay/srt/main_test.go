package srtrelay

import (
	"testing"

	"github.com/sluicemedia/sluice/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }
