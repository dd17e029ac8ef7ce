// Command immudb-bench writes N entries of one size into a fresh immudb database with SetAll batches from
// several clients at once, reads back every transaction with VerifiedTxByID (the client checks the server's
// dual proof against its last verified state), and prints the figures as one JSON object on stdout.
//
//	immudb-bench -port 3322 -database bench1 -entries 100000 -batch 500 -clients 8 -value-size 600 \
//	    -data-dir .tiezheng/services/immudb/data -verify=true
//
// It is the immudb side of `python -m bench.intake --against immudb`; it uses immudb's own Go client.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/codenotary/immudb/pkg/api/schema"
	immuclient "github.com/codenotary/immudb/pkg/client"
)

type config struct {
	port      int
	database  string
	entries   int
	batch     int
	clients   int
	valueSize int
	dataDir   string
	verify    bool
	user      string
	password  string
}

type result struct {
	Database      string  `json:"database"`
	Entries       int     `json:"entries"`
	Batch         int     `json:"batch"`
	Clients       int     `json:"clients"`
	ValueSize     int     `json:"value_size"`
	Verified      bool    `json:"verified"`
	VerifiedTxs   int     `json:"verified_txs"`
	Seconds       float64 `json:"seconds"`
	EntriesPerSec float64 `json:"entries_per_s"`
	BytesOnDisk   int64   `json:"bytes_on_disk"`
	BytesEmpty    int64   `json:"bytes_empty"`
}

func main() {
	cfg := config{}
	flag.IntVar(&cfg.port, "port", 3322, "immudb gRPC port on 127.0.0.1")
	flag.StringVar(&cfg.database, "database", "bench", "database to create and write into (must not exist)")
	flag.IntVar(&cfg.entries, "entries", 10000, "entries to write")
	flag.IntVar(&cfg.batch, "batch", 500, "entries per SetAll transaction")
	flag.IntVar(&cfg.clients, "clients", 8, "concurrent clients, each with its own session")
	flag.IntVar(&cfg.valueSize, "value-size", 600, "bytes per value")
	flag.StringVar(&cfg.dataDir, "data-dir", "", "immudb's --dir, to report the database's bytes on disk")
	flag.BoolVar(&cfg.verify, "verify", true, "read every transaction back with VerifiedTxByID")
	flag.StringVar(&cfg.user, "user", "immudb", "user")
	flag.StringVar(&cfg.password, "password", "immudb", "password")
	ping := flag.Bool("ping", false, "only open and close a session on defaultdb (a readiness check)")
	flag.Parse()
	if *ping {
		_, closeSession, err := session(context.Background(), cfg, "defaultdb")
		if err != nil {
			fail(err)
		}
		closeSession()
		return
	}
	if cfg.entries <= 0 || cfg.batch <= 0 || cfg.clients <= 0 || cfg.valueSize <= 0 {
		fail(fmt.Errorf("entries, batch, clients and value-size must be positive"))
	}
	res, err := run(cfg)
	if err != nil {
		fail(err)
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "immudb-bench: %v\n", err)
	os.Exit(1)
}

// session opens a client session on database, with its own state cache directory.
func session(ctx context.Context, cfg config, database string) (immuclient.ImmuClient, func(), error) {
	dir, err := os.MkdirTemp("", "immudb-bench-state-")
	if err != nil {
		return nil, nil, err
	}
	opts := immuclient.DefaultOptions().WithAddress("127.0.0.1").WithPort(cfg.port).WithDir(dir)
	client := immuclient.NewClient().WithOptions(opts)
	if err := client.OpenSession(ctx, []byte(cfg.user), []byte(cfg.password), database); err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("open session on %s (is immudb up on port %d?): %w", database, cfg.port, err)
	}
	return client, func() { _ = client.CloseSession(ctx); os.RemoveAll(dir) }, nil
}

func run(cfg config) (*result, error) {
	ctx := context.Background()
	admin, closeAdmin, err := session(ctx, cfg, "defaultdb")
	if err != nil {
		return nil, err
	}
	if _, err := admin.CreateDatabaseV2(ctx, cfg.database, &schema.DatabaseNullableSettings{}); err != nil {
		closeAdmin()
		return nil, fmt.Errorf("create database %s: %w", cfg.database, err)
	}
	closeAdmin()
	empty := diskUsage(cfg)

	batches := make([][]*schema.KeyValue, 0, (cfg.entries+cfg.batch-1)/cfg.batch)
	for start := 0; start < cfg.entries; start += cfg.batch {
		end := min(start+cfg.batch, cfg.entries)
		kvs := make([]*schema.KeyValue, 0, end-start)
		for i := start; i < end; i++ {
			value := make([]byte, cfg.valueSize)
			if _, err := rand.Read(value); err != nil { // random: nothing compresses better than real events
				return nil, err
			}
			kvs = append(kvs, &schema.KeyValue{Key: fmt.Appendf(nil, "ev/%012d", i), Value: value})
		}
		batches = append(batches, kvs)
	}
	clients := make([]immuclient.ImmuClient, cfg.clients)
	for i := range clients {
		client, closeClient, err := session(ctx, cfg, cfg.database)
		if err != nil {
			return nil, err
		}
		defer closeClient()
		clients[i] = client
	}

	var wg sync.WaitGroup
	errs := make(chan error, cfg.clients)
	verified := make([]int, cfg.clients)
	started := time.Now()
	for i, client := range clients {
		wg.Add(1)
		go func(i int, client immuclient.ImmuClient) {
			defer wg.Done()
			for b := i; b < len(batches); b += cfg.clients {
				hdr, err := client.SetAll(ctx, &schema.SetRequest{KVs: batches[b]})
				if err != nil {
					errs <- fmt.Errorf("SetAll: %w", err)
					return
				}
				if cfg.verify {
					if _, err := client.VerifiedTxByID(ctx, hdr.Id); err != nil {
						errs <- fmt.Errorf("VerifiedTxByID(%d): %w", hdr.Id, err)
						return
					}
					verified[i]++
				}
			}
		}(i, client)
	}
	wg.Wait()
	elapsed := time.Since(started).Seconds()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	// the index is written behind the commits: flush it (synced) so the bytes on disk are all of it
	if _, err := clients[0].FlushIndex(ctx, 0, true); err != nil {
		return nil, fmt.Errorf("FlushIndex: %w", err)
	}
	total := 0
	for _, n := range verified {
		total += n
	}
	return &result{Database: cfg.database, Entries: cfg.entries, Batch: cfg.batch, Clients: cfg.clients,
		ValueSize: cfg.valueSize, Verified: cfg.verify, VerifiedTxs: total, Seconds: elapsed,
		EntriesPerSec: float64(cfg.entries) / elapsed, BytesOnDisk: diskUsage(cfg), BytesEmpty: empty}, nil
}

// diskUsage is the allocated size of the database's directory (blocks, as du counts), or -1 without -data-dir.
func diskUsage(cfg config) int64 {
	if cfg.dataDir == "" {
		return -1
	}
	var total int64
	_ = filepath.WalkDir(filepath.Join(cfg.dataDir, cfg.database), func(_ string, entry fs.DirEntry, err error) error {
		if err == nil && !entry.IsDir() {
			if info, err := entry.Info(); err == nil {
				total += allocated(info)
			}
		}
		return nil
	})
	return total
}

// allocated is a file's size in allocated blocks (what du reports), or its length where that is unknown.
func allocated(info fs.FileInfo) int64 {
	if stat, ok := info.Sys().(*syscall.Stat_t); ok {
		return stat.Blocks * 512
	}
	return info.Size()
}
