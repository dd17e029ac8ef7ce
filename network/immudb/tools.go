//go:build tools

// Package tools pins immudb's server command in this module, so `go mod tidy` keeps what it needs and
// `go build github.com/codenotary/immudb/cmd/immudb` builds from the versions in go.sum.
package tools

import _ "github.com/codenotary/immudb/cmd/immudb"
