package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAPIKeyDefaultEmpty(t *testing.T) {
	c, err := Load("", nil)
	require.NoError(t, err)
	require.Equal(t, APIConfig{Key: ""}, c.API)
}

func TestAPIKeyFromEnvAndFile(t *testing.T) {
	c, err := Load("", []string{"SLUICE_API_KEY=0123456789abcdef-env"})
	require.NoError(t, err)
	require.Equal(t, "0123456789abcdef-env", c.API.Key)

	p := writeFile(t, "api:\n  key: \"0123456789abcdef-file\"\n")
	c, err = Load(p, nil)
	require.NoError(t, err)
	require.Equal(t, "0123456789abcdef-file", c.API.Key)
}

func TestAPIKeyValidation(t *testing.T) {
	for _, tc := range []struct {
		key, want string
	}{
		{"short", "api.key: must be empty (loopback-only API) or 16..256 characters"},
		{strings.Repeat("k", 257), "16..256 characters"},
		{"0123456789abcdef ghij", "printable ASCII without spaces"},
		{"0123456789abcdef\x7f", "printable ASCII without spaces"},
		{"0123456789abcdéf", "printable ASCII without spaces"},
	} {
		c, err := Load("", nil)
		require.NoError(t, err)
		c.API.Key = tc.key
		err = c.Validate()
		require.Error(t, err, "%q", tc.key)
		require.Contains(t, err.Error(), tc.want)
	}
	c, err := Load("", nil)
	require.NoError(t, err)
	c.API.Key = "A-good.key_0123456789~!"
	require.NoError(t, c.Validate())
}
