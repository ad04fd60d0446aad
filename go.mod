module github.com/sluicemedia/sluice

go 1.26.0

require (
	github.com/bluenviron/mediacommon/v2 v2.9.3
	github.com/coder/websocket v1.8.15
	github.com/stretchr/testify v1.11.1
	go.yaml.in/yaml/v3 v3.0.4
)

require (
	github.com/abema/go-mp4 v1.7.1 // indirect
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
