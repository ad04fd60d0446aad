package app

import (
	"fmt"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/relay"
)

// redacted is what GET /api/v1/config shows instead of a secret.
const redacted = "REDACTED"

// secretKeys are the config keys whose values are credentials: API and
// stream keys, JWT and cluster secrets, S3 keys, SRT passphrases.
var secretKeys = map[string]bool{
	"key": true, "publish_keys": true, "play_keys": true, "secret": true,
	"access_key": true, "secret_key": true, "srt_passphrase": true,
}

// effectiveConfig is the running config as GET /api/v1/config shows it:
// the same keys and layout as the YAML file (defaults, file and SLUICE_*
// overrides applied), secrets replaced by "REDACTED", and URLs (sources,
// forward targets, hooks) redacted like the streams API shows them:
// credentials, query values and long RTMP stream keys.
func effectiveConfig(cfg *config.Config) (any, error) {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	return redactValue("", doc), nil
}

func redactValue(key string, v any) any {
	if secretKeys[key] && !isEmpty(v) {
		if _, list := v.([]any); list {
			return []any{redacted}
		}
		return redacted
	}
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			v[k] = redactValue(k, c)
		}
		return v
	case []any:
		for i, c := range v {
			v[i] = redactValue(key, c)
		}
		return v
	case string:
		if strings.Contains(v, "://") {
			if u, err := url.Parse(v); err == nil {
				return relay.Redact(u)
			}
			return redacted // unparsable, and it may hold anything
		}
	}
	return v
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	}
	return fmt.Sprint(v) == ""
}
